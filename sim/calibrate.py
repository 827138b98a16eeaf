"""Calibration: fit a profile's stage parameters to measurements from this host.

Measurements are plain records (a list of dicts, e.g. from ``vmvc bench``'s JSON; the format is in
docs/records.md and :mod:`sim.records`, which also turns ``vmvc vm boot --json`` reports into records)::

    {"type": "host", "cores": 2, "memory_mib": 24576, "disk_mib_s": 1000}
    {"type": "stage", "kind": "vm", "stage": "kernel_init", "seconds": 2.31, "cpu_seconds": 2.29}
    {"type": "storm", "kind": "vm", "n": 4, "ready_s": [6.1, 6.3, 6.2, 6.4]}

``stage`` records are single starts (N=1), one per stage per run; ``cpu_seconds`` (the CPU time the
stage used, from rusage or cgroup accounting) and ``mem_mib`` are optional. ``storm`` records give
the ready time of every instance of a storm of ``n`` started at once. Other keys are ignored.

The fit, per kind:

1. each stage's duration is the median of its N=1 samples, its ``jitter`` the spread of their logs;
   a gap between the N=1 storm and the sum of stages becomes an ``unattributed`` stage;
2. each stage's CPU-bound fraction starts from ``cpu_seconds / seconds`` when measured, else from
   the ``prior`` profile's stage of the same name, else 1 (all CPU);
3. one factor ``gamma`` scales those fractions (``cpu = min(1, gamma·f)·d``, the rest is latency)
   and is chosen to minimise the squared log error of the simulated mean ready time of every
   measured storm: a coarse grid, then golden-section search (numpy only, no scipy);
4. on a shared host other work takes CPU the storms cannot use: the host's ``effective_cores``
   (1..cores, processor-sharing capacity) is fitted the same way over all kinds, kept only when it
   explains the storms clearly better, and the fractions are refitted with it.

Measured durations already include cache hits and cgroup grace periods, so fitted stages model
them as plain CPU and latency. :mod:`sim.validate` then reports predicted vs measured (MAPE).

    >>> from sim import synthetic
    >>> truth = synthetic.truth()                   # a known parameter set (tests/sim use it too)
    >>> records = synthetic.records(truth, seed=3)  # "measurements" from it, with noise
    >>> fitted = profile_from_records(records, name="fitted")
    >>> 0.8 < fitted["measured"]["fit"]["vm"]["gamma"] < 1.25
    True
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from sim.errors import SimError
from sim.profiles import KINDS, MIB, Profile, host_dict, load
from sim.records import normalise

GOLDEN = (math.sqrt(5) - 1) / 2
#: Seeds per simulated storm in the fit: fixed seeds (common random numbers) keep the loss smooth in
#: gamma, and jitter matters: under processor sharing unequal starts finish earlier on average.
SEEDS = 4


def _group(records):
    records = normalise(records)
    host, stages, storms = None, defaultdict(dict), defaultdict(list)
    for i, r in enumerate(records):
        if not isinstance(r, dict):
            raise SimError(f"record {i}: expected an object, got {type(r).__name__}")
        kind = r.get("kind")
        t = r.get("type")
        if t == "host":
            host = r
        elif t in ("stage", "storm"):
            if kind not in KINDS:
                raise SimError(f"record {i}: 'kind' must be one of {', '.join(KINDS)}, got {kind!r}")
            if t == "stage":
                sec = r.get("seconds")
                if not isinstance(sec, (int, float)) or sec < 0 or not isinstance(r.get("stage"), str):
                    raise SimError(f"record {i}: a stage record needs 'stage' and 'seconds' >= 0")
                stages[kind].setdefault(r["stage"], []).append(r)
            else:
                ready = r.get("ready_s")
                n = r.get("n")
                if not isinstance(n, int) or n < 1 or not isinstance(ready, list) or not ready:
                    raise SimError(f"record {i}: a storm record needs 'n' >= 1 and a list 'ready_s'")
                storms[kind].append((n, float(np.mean(ready)), float(np.max(ready))))
    return host, stages, storms


def _host(host_record: dict | None, prior: Profile | None) -> dict:
    base = (
        host_dict(prior.host)
        if prior
        else {"cores": 2, "memory_mib": 24576, "disk_mib_s": 1000, "cpu_model": "ps", "admission": "wait"}
    )
    if host_record:
        for key in ("cores", "memory_mib", "disk_mib_s", "cpu_model"):
            if key in host_record:
                base[key] = host_record[key]
    return base


def _stage_table(
    kind: str, samples: dict[str, list[dict]], prior: Profile | None, storms: list[tuple]
) -> list[dict]:
    prior_stages = {}
    if prior and kind in prior.instances:
        for s in prior.instances[kind].stages:
            prior_stages[s.name] = s
    rows = []
    for name, recs in samples.items():
        secs = np.array([float(r["seconds"]) for r in recs])
        d = float(np.median(secs))
        positive = secs[secs > 0]
        jitter = float(np.std(np.log(positive))) if len(positive) >= 3 else 0.1
        cpu = [
            float(r["cpu_seconds"]) / float(r["seconds"])
            for r in recs
            if isinstance(r.get("cpu_seconds"), (int, float)) and r["seconds"] > 0
        ]
        if cpu:
            frac = float(np.clip(np.median(cpu), 0.0, 1.0))
        elif name in prior_stages:
            p = prior_stages[name]
            total = p.cpu + p.delay + p.io / (prior.host.disk_bw if prior else 1e9)
            frac = p.cpu / total if total > 0 else 0.0
        else:
            frac = 1.0
        mem = [float(r["mem_mib"]) for r in recs if isinstance(r.get("mem_mib"), (int, float))]
        mem_mib = (
            float(np.median(mem)) if mem else (prior_stages[name].mem / MIB if name in prior_stages else 0.0)
        )
        component = prior_stages[name].component if name in prior_stages else ""
        rows.append(
            {
                "name": name,
                "seconds": d,
                "frac": frac,
                "jitter": min(jitter, 1.0),
                "mem_mib": mem_mib,
                "component": component,
            }
        )
    solo = [mean for n, mean, _ in storms if n == 1]
    if solo:
        gap = float(np.median(solo)) - sum(r["seconds"] for r in rows)
        if rows and gap > 0.02 * sum(r["seconds"] for r in rows):
            rows.append(
                {
                    "name": "unattributed",
                    "seconds": gap,
                    "frac": 1.0,
                    "jitter": 0.1,
                    "mem_mib": 0.0,
                    "component": "",
                }
            )
    if not rows:
        raise SimError(f"no stage records for kind '{kind}'")
    return rows


def _stages(rows: list[dict], gamma: float) -> list[dict]:
    out = []
    for r in rows:
        f = min(1.0, max(0.0, gamma * r["frac"]))
        stage = {
            "name": r["name"],
            "cpu_ms": r["seconds"] * f * 1e3,
            "delay_ms": r["seconds"] * (1 - f) * 1e3,
            "mem_mib": r["mem_mib"],
            "jitter": r["jitter"],
            "source": "this-host",
        }
        if r["component"]:
            stage["component"] = r["component"]
        out.append(stage)
    return out


def _profile(name: str, host: dict, stages_by_kind: dict, measured: dict, about: dict | None = None) -> dict:
    about = about or {}
    return {
        "name": name,
        "title": about.get("title", "This host, calibrated from measurements"),
        "description": about.get(
            "description", "Written by sim.calibrate from benchmark records; see 'measured' for the fit."
        ),
        "sources": about.get(
            "sources",
            [
                {
                    "id": "this-host",
                    "cite": "measured on this host (vmvc bench), fitted by sim.calibrate",
                    "url": "",
                }
            ],
        ),
        "host": host,
        "instances": {k: {"stages": v} for k, v in stages_by_kind.items()},
        "measured": measured,
    }


def predict(profile, kind: str, n: int, seeds: int = 1, jitter: bool = False) -> tuple[float, float]:
    """Simulated (mean ready time, makespan) of a storm of ``n``, averaged over ``seeds`` seeds."""
    from sim.scenarios import storm

    means, spans = [], []
    for seed in range(seeds):
        r = storm.run(profile, kind, seed=seed, n=n, jitter=jitter)
        rt = r.ready_times
        means.append(float(np.nanmean(rt)))
        spans.append(float(np.nanmax(rt)))
    return float(np.mean(means)), float(np.mean(spans))


def _loss(rows, host, kind, storms, gamma) -> float:
    """Squared log error of the simulated mean ready time over every storm of ``kind``."""
    prof = load(_profile("fit", host, {kind: _stages(rows, gamma)}, {}))
    err = 0.0
    for n, mean, _ in storms:
        pred, _ = predict(prof, kind, n, seeds=SEEDS, jitter=True)
        err += math.log(pred / mean) ** 2 if pred > 0 and mean > 0 else 1e9
    return err


def minimise(f, lo: float, hi: float, points: int = 17, iterations: int = 30) -> float:
    """The ``x`` in ``[lo, hi]`` minimising ``f``: a coarse grid, then golden section around its best."""
    grid = np.linspace(lo, hi, points)
    losses = [f(x) for x in grid]
    best = int(np.argmin(losses))
    a, b = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    c, d = b - GOLDEN * (b - a), a + GOLDEN * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(iterations):
        if abs(b - a) < 1e-4 * max(hi - lo, 1e-9):
            break
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - GOLDEN * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + GOLDEN * (b - a)
            fd = f(d)
    x = (a + b) / 2
    return float(x if f(x) <= losses[best] else grid[best])


def fit_gamma(rows: list[dict], host: dict, kind: str, storms: list[tuple]) -> float:
    """The CPU-fraction scale that best explains the storms."""
    fracs = [r["frac"] for r in rows if r["frac"] > 0]
    if not fracs or all(n == 1 for n, _, _ in storms):
        return 1.0  # without a storm of several the CPU share is not identifiable: keep the measured one
    return minimise(lambda g: _loss(rows, host, kind, storms, g), 0.0, 1.0 / min(fracs))


def fit_effective_cores(tables: dict, gammas: dict, host: dict, storms: dict) -> float | None:
    """The share of the cores (1..cores) that best explains every storm, or None if cores fit best.

    Other work on a shared host (other users, CI neighbours) takes CPU the storms cannot use; one
    number, the effective core count, captures that. Kept only when it cuts the loss by >20%.
    """
    cores = host["cores"]
    if cores <= 1 or host.get("cpu_model", "ps") != "ps" or not any(storms.values()):
        return None

    def loss(eff: float) -> float:
        h = {**host, "effective_cores": eff}
        return sum(_loss(tables[k], h, k, storms.get(k, []), gammas[k]) for k in tables)

    eff = minimise(loss, 1.0, float(cores), points=9)
    return eff if loss(eff) < 0.8 * loss(float(cores)) else None


def profile_from_records(
    records: list[dict],
    name: str = "this-host",
    prior: str | Profile | None = None,
    about: dict | None = None,
) -> dict:
    """Fit a profile dict (ready for :func:`sim.profiles.save_profile`) from measurement records
    (any shape :func:`sim.records.normalise` accepts). ``about`` may give the profile's ``title``,
    ``description`` and ``sources`` (the host and the run the records come from)."""
    records = normalise(records) if records else records
    if not isinstance(records, list) or not records:
        raise SimError("no measurement records")
    prior_profile = load(prior) if prior is not None else None
    host_record, stage_samples, storms = _group(records)
    host = _host(host_record, prior_profile)
    if not stage_samples:
        raise SimError("no stage records: calibration needs single-start stage durations")
    host.pop("effective_cores", None)
    tables = {k: _stage_table(k, v, prior_profile, storms.get(k, [])) for k, v in stage_samples.items()}
    # coordinate descent: CPU fractions per kind, the host's effective cores, then fractions again
    gammas = {k: fit_gamma(rows, host, k, storms.get(k, [])) for k, rows in tables.items()}
    effective = fit_effective_cores(tables, gammas, host, storms)
    if effective is not None:
        host["effective_cores"] = effective
        gammas = {k: fit_gamma(rows, host, k, storms.get(k, [])) for k, rows in tables.items()}
    fit = {
        k: {
            "gamma": gammas[k],
            "stage_records": sum(len(v) for v in stage_samples[k].values()),
            "storms": sorted({n for n, _, _ in storms.get(k, [])}),
        }
        for k in tables
    }
    kinds = {k: _stages(rows, gammas[k]) for k, rows in tables.items()}
    data = _profile(
        name, host, kinds, {"fit": fit, "effective_cores": effective, "records": len(records)}, about
    )
    load(data)  # validate
    return data
