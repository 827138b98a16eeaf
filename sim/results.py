"""Results as plain data: numpy arrays per instance, stage rows, and a JSON-able summary.

    >>> import sim
    >>> r = sim.run("storm", profile="crun", n=4, seed=1)
    >>> r.ready_times.shape
    (4,)
    >>> sorted(r.records[0])
    ['duration', 'end', 'host', 'instance', 'stage', 'start']
    >>> s = r.summary()
    >>> s["n"], s["ready"]["count"]
    (4, 4)

``ready_times`` is the time from an instance's arrival to its last stage's end (NaN when it was
refused or never got memory). Plots (``plot_timeline``, ``plot_cdf``, ``plot_memory`` and
``plot_density`` / ``plot_scaleout`` for those scenarios) return matplotlib figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

NAN = float("nan")


class Recorder:
    """Collects what happens during a run; cheap appends only (a storm has many instances)."""

    def __init__(self) -> None:
        self.arrival: list[float] = []
        self.admitted: list[float] = []
        self.ready: list[float] = []
        self.gone: list[float] = []
        self.host: list[int] = []
        self.refused_idx: list[int] = []
        self.rows: list[tuple[int, int, float, float]] = []

    def new(self, arrival: float, host: int) -> int:
        self.arrival.append(arrival)
        self.admitted.append(NAN)
        self.ready.append(NAN)
        self.gone.append(NAN)
        self.host.append(host)
        return len(self.arrival) - 1

    def refused(self, idx: int) -> None:
        self.refused_idx.append(idx)


def _stats(values: np.ndarray) -> dict:
    v = values[~np.isnan(values)]
    if not len(v):
        return {"count": 0}
    return {
        "count": int(len(v)),
        "mean": float(v.mean()),
        "median": float(np.median(v)),
        "p95": float(np.percentile(v, 95)),
        "min": float(v.min()),
        "max": float(v.max()),
    }


@dataclass
class Result:
    """One simulated scenario: arrays per instance, stage rows, host facts, scenario extras."""

    scenario: str
    profile: str
    kind: str
    seed: int
    params: dict
    stage_names: list[str]
    arrival: np.ndarray
    admitted: np.ndarray
    ready: np.ndarray
    host_of: np.ndarray
    refused: np.ndarray
    stage_rows: np.ndarray  # (rows, 4): instance, stage index, start, end
    memory: dict  # private bytes per component, shared bytes, host overhead, host memory
    hosts: list[dict]
    events: int
    wall: float
    extra: dict = field(default_factory=dict)

    @classmethod
    def build(cls, rec: Recorder, **kw) -> Result:
        rows = np.array(rec.rows, dtype=float).reshape(-1, 4)
        return cls(
            arrival=np.array(rec.arrival),
            admitted=np.array(rec.admitted),
            ready=np.array(rec.ready),
            host_of=np.array(rec.host, dtype=int),
            refused=np.array(sorted(rec.refused_idx), dtype=int),
            stage_rows=rows,
            **kw,
        )

    def __repr__(self) -> str:  # short: a notebook cell shows this, not 10,000 numbers
        rt = self.ready_times
        done = rt[~np.isnan(rt)]
        ready = (
            f"ready median {np.median(done):.4g} s, all ready {np.max(done):.4g} s"
            if len(done)
            else "none ready"
        )
        return (
            f"<Result {self.scenario}: {self.profile} ({self.kind}), n={self.n}, {ready}, "
            f"refused {len(self.refused)}, seed {self.seed}>"
        )

    def _repr_html_(self) -> str:
        """A notebook's display: the summary as a table, then the plot that fits the scenario."""
        from sim import plots

        s = self.summary()
        ready = s["ready"]
        rows = [
            ["scenario", f"{self.scenario} (seed {self.seed})"],
            ["profile", f"{self.profile} ({self.kind})"],
            ["instances", f"{self.n} ({s['refused']} refused)"],
            ["ready median / p95", f"{ready.get('median', NAN):.4g} s / {ready.get('p95', NAN):.4g} s"],
            ["all ready", f"{s['makespan']:.4g} s"],
            ["private memory each", f"{self.memory.get('private', 0) / 2**20:,.1f} MiB"],
        ]
        rows += [[f"stage {k}", f"median {v.get('median', NAN):.4g} s"] for k, v in s["stages"].items()]
        try:
            picture = plots.html_img(self.plot())
        except Exception as e:  # a display must not fail because a plot did
            picture = f"<p>(no plot: {type(e).__name__}: {e})</p>"
        return plots.html_table(["", ""], rows, caption=repr(self)) + picture

    @property
    def n(self) -> int:
        return len(self.arrival)

    @property
    def ready_times(self) -> np.ndarray:
        """Seconds from arrival to ready, per instance (NaN: refused or still waiting)."""
        return self.ready - self.arrival

    @property
    def records(self) -> list[dict]:
        """One dict per (instance, stage): instance, host, stage, start, end, duration."""
        names = self.stage_names
        hosts = self.host_of
        return [
            {
                "instance": int(i),
                "host": int(hosts[int(i)]),
                "stage": names[int(j)],
                "start": float(s),
                "end": float(e),
                "duration": float(e - s),
            }
            for i, j, s, e in self.stage_rows
        ]

    def stage_durations(self) -> dict[str, np.ndarray]:
        """Stage name -> durations of that stage across instances."""
        out = {}
        for j, name in enumerate(self.stage_names):
            rows = self.stage_rows[self.stage_rows[:, 1] == j]
            out[name] = rows[:, 3] - rows[:, 2]
        return out

    def summary(self) -> dict:
        rt = self.ready_times
        ready = self.ready[~np.isnan(self.ready)]
        out = {
            "scenario": self.scenario,
            "profile": self.profile,
            "kind": self.kind,
            "seed": self.seed,
            "params": self.params,
            "n": self.n,
            "refused": int(len(self.refused)),
            "ready": _stats(rt),
            "makespan": float(ready.max()) if len(ready) else NAN,
            "stages": {k: _stats(v) for k, v in self.stage_durations().items()},
            "memory": self.memory,
            "hosts": self.hosts,
            "events": self.events,
            "wall_s": self.wall,
            "events_per_s": self.events / self.wall if self.wall > 0 else NAN,
        }
        out.update({k: v for k, v in self.extra.items() if not isinstance(v, np.ndarray)})
        return _jsonable(out)

    def to_json(self) -> dict:
        """Summary plus the per-instance arrays (lists) and stage rows, for files and other tools."""
        out = self.summary()
        out["instances"] = {
            "arrival": self.arrival,
            "admitted": self.admitted,
            "ready": self.ready,
            "host": self.host_of,
        }
        out["records"] = self.records
        out["series"] = {k: v for k, v in self.extra.items() if isinstance(v, np.ndarray)}
        return _jsonable(out)

    # plots (matplotlib is imported only when one is drawn)
    def plot_timeline(self, ax=None, limit: int = 200):
        from sim import plots

        return plots.timeline(self, ax=ax, limit=limit)

    def plot_cdf(self, ax=None, others=()):
        from sim import plots

        return plots.cdf([self, *others], ax=ax)

    def plot_memory(self, ax=None, others=()):
        from sim import plots

        return plots.memory([self, *others], ax=ax)

    def plot_density(self, ax=None):
        from sim import plots

        return plots.density(self, ax=ax)

    def plot_scaleout(self, ax=None):
        from sim import plots

        return plots.scaleout(self, ax=ax)

    def plot(self, ax=None):
        """The plot that fits this scenario best."""
        best = {"density": self.plot_density, "scaleout": self.plot_scaleout, "start": self.plot_timeline}
        return best.get(self.scenario, self.plot_cdf)(ax=ax)


def _jsonable(value):
    """Numbers and containers JSON can hold (NaN becomes None)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return None if math.isnan(f) or math.isinf(f) else f
    return value
