"""The contract between `vmvc bench` and its suites: what a suite module exposes and what it may call.

A suite is one module in ``benchmarks/suites/`` (one concept per file, as SimPy keeps its concepts)::

    NAME = "workload"                 # the --suite name
    TITLE = "Workload overhead"       # the report's section title
    NEEDS = ["root", "fio"]           # doctor check names; the runner skips the suite with the doctor's
                                      # reason when one is not usable, and the report lists it as skipped
    CLAIMS = ["C7"]                   # claim ids (docs/claims.md) this suite gives evidence for
    BUDGET = {"quick": 40, "full": 240}  # optional: seconds after which ``ctx.rounds_within`` starts no
                                      # new round (the rounds done are recorded, n says how many)

    def run(ctx: SuiteContext) -> None:      # measure; record with ctx.sample(...)
    def claims(res: Results) -> list[ClaimRow]   # verdicts from *this run's* numbers (never constants)
    def chart(res: Results, ax) -> None          # optional: draw the suite's chart on a matplotlib Axes
    def table(res: Results) -> (columns, rows)   # optional: the suite's own table in its report section

``run`` records every measurement as a :class:`Sample`; the runner summarises (median, IQR, n) per
(suite, method, metric, labels). Rounds must be interleaved across methods (``ctx.rounds``) so the noise
of a shared host hits every method alike and ratios measured in one run hold. A suite that cannot measure
on this host for a reason the doctor does not know raises :class:`NotMeasured` with that reason.

Suites of one run share a :class:`RunScope` (``ctx.scope``): measurements one suite made that another
would only repeat (the same VM boot, e.g.). A suite run on its own gets a scope of its own.

:class:`Results` is also the file format: ``to_dict``/``from_dict`` (``"schema": SCHEMA``) carry the
samples, their summaries, host metadata, each suite's status, notes and facts, and the claim rows.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

VERDICTS = ("reproduced", "reproduced with a caveat", "not reproduced here", "not measured here")
SCHEMA = 1  # results.json's version: bump on any incompatible change


class NotMeasured(Exception):
    """Raised by a suite's ``run`` when this host or this build cannot measure what it is about (the
    message says why, e.g. which issue's feature is missing); the report lists it as not measured."""


@dataclass
class Sample:
    """One measured value: ``value`` in ``unit`` for ``method`` (e.g. "crun") and ``metric`` ("start")."""

    suite: str
    method: str
    metric: str
    value: float
    unit: str = "ms"
    round: int = 0
    labels: dict = field(default_factory=dict)

    def key(self) -> tuple:
        return (self.suite, self.method, self.metric, tuple(sorted(self.labels.items())))


@dataclass
class Summary:
    suite: str
    method: str
    metric: str
    unit: str
    labels: dict
    n: int
    median: float
    q1: float
    q3: float
    min: float
    max: float

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    def key(self) -> tuple:
        return (self.suite, self.method, self.metric, tuple(sorted(self.labels.items())))

    @classmethod
    def of(cls, samples: list[Sample]) -> Summary:
        values = sorted(s.value for s in samples)
        first = samples[0]
        if len(values) >= 2:
            q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
        else:
            q1 = q3 = values[0]
        return cls(first.suite, first.method, first.metric, first.unit, dict(first.labels), len(values),
                   statistics.median(values), q1, q3, values[0], values[-1])


@dataclass
class ClaimRow:
    """A claim's line in the report: what was measured here and the verdict it supports."""

    id: str  # "C1".."C13"
    measured: str  # the evidence, with numbers from this run
    verdict: str  # one of VERDICTS
    reason: str = ""  # why this verdict (caveat, or why not measured)
    published: str = ""  # the published figure shown beside it, with its source

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}")


class Results:
    """All samples and summaries of a run, with look-ups suites use in their ``claims``/``chart``.

    A results file may keep only some samples per measurement (the recorded results shipped in the repo):
    its stored summaries, made from every sample when it was written, then answer ``get``/``summaries``.
    """

    def __init__(self, samples: Iterable[Sample] = (), facts: dict | None = None):
        self.samples: list[Sample] = list(samples)
        self.facts: dict = facts or {}  # {suite: {key: value}} e.g. accelerator, host notes
        self.notes: dict[str, list[str]] = {}  # {suite: [sentence, ...]}
        self.suites: dict[str, dict] = {}  # {suite: {"title", "status", "reason", "seconds", "claims"}}
        self.host: dict = {}  # host metadata from the doctor
        self.meta: dict = {}  # how the run was made: mode, argv, started, wall seconds
        self.claims: list[ClaimRow] = []
        self.partial = False  # interrupted: some suites were not run or not finished
        self.stored: dict[tuple, Summary] = {}  # summaries read from a file (authoritative when present)

    def summaries(self, suite: str | None = None) -> list[Summary]:
        groups: dict[tuple, list[Sample]] = {}
        for s in self.samples:
            if suite is None or s.suite == suite:
                groups.setdefault(s.key(), []).append(s)
        found = {k: self.stored.get(k) or Summary.of(g) for k, g in groups.items()}
        for k, summary in self.stored.items():
            if suite is None or summary.suite == suite:
                found.setdefault(k, summary)
        return list(found.values())

    def get(self, suite: str, method: str, metric: str, **labels) -> Summary | None:
        """The summary for exactly these labels (None when not measured)."""
        stored = self.stored.get((suite, method, metric, tuple(sorted(labels.items()))))
        if stored is not None:
            return stored
        chosen = [s for s in self.samples if s.suite == suite and s.method == method
                  and s.metric == metric and s.labels == labels]
        return Summary.of(chosen) if chosen else None

    def median(self, suite: str, method: str, metric: str, **labels) -> float | None:
        s = self.get(suite, method, metric, **labels)
        return s.median if s else None

    def curve(self, suite: str, method: str, metric: str, by: str = "n", **labels) -> list[tuple]:
        """``(label by, median)`` of every summary of ``metric`` that has label ``by`` (and ``labels``),
        in order of ``by``: one line of a chart over N."""
        return sorted((s.labels[by], s.median) for s in self.summaries(suite)
                      if s.method == method and s.metric == metric and by in s.labels
                      and all(s.labels.get(k) == v for k, v in labels.items()))

    def values(self, suite: str, method: str, metric: str, **labels) -> list[float]:
        """The kept samples' values (all of them unless the file was trimmed)."""
        return [s.value for s in self.samples if s.suite == suite and s.method == method
                and s.metric == metric and s.labels == labels]

    def fact(self, suite: str, key: str, default=None):
        return self.facts.get(suite, {}).get(key, default)

    def _repr_html_(self) -> str:
        """A notebook's display (issue 11): the claims table, then every summary (median, IQR, n)."""
        from sim.plots import html_table

        claims = html_table(["claim", "measured here", "verdict", "published"],
                            [[c.id, c.measured, c.verdict, c.published] for c in self.claims],
                            caption="claims" + (" (partial run)" if self.partial else ""))
        rows = [[s.suite, s.method, s.metric, ", ".join(f"{k}={v}" for k, v in s.labels.items()),
                 f"{s.median:.4g} {s.unit}", f"{s.iqr:.3g}", s.n] for s in self.summaries()]
        return claims + html_table(["suite", "method", "metric", "labels", "median", "IQR", "n"], rows,
                                   caption="measurements")

    # -- the file format ---------------------------------------------------------------------------
    def to_dict(self, samples_per_key: int | None = None) -> dict:
        """Everything, JSON-ready. ``samples_per_key`` keeps only that many samples per measurement
        (spread over the run), for small recorded files; summaries always come from all samples."""
        kept = self.samples
        if samples_per_key is not None:
            groups: dict[tuple, list[Sample]] = {}
            for s in self.samples:
                groups.setdefault(s.key(), []).append(s)
            kept = []
            for g in groups.values():
                step = max(1, len(g) // samples_per_key) if samples_per_key else len(g) + 1
                kept += g[::step][:samples_per_key]
        return {"schema": SCHEMA, "partial": self.partial, "meta": self.meta, "host": self.host,
                "suites": self.suites, "facts": self.facts, "notes": self.notes,
                "claims": [asdict(c) for c in self.claims],
                "summaries": [asdict(s) for s in self.summaries()],
                "samples": [asdict(s) for s in kept], "samples_complete": samples_per_key is None}

    @classmethod
    def from_dict(cls, d: dict) -> Results:
        if d.get("schema") != SCHEMA:
            raise ValueError(f"results schema {d.get('schema')!r} is not {SCHEMA} (written by another vmvc)")
        res = cls([Sample(**s) for s in d.get("samples", [])], d.get("facts") or {})
        res.notes, res.suites = d.get("notes") or {}, d.get("suites") or {}
        res.host, res.meta, res.partial = d.get("host") or {}, d.get("meta") or {}, bool(d.get("partial"))
        res.claims = [ClaimRow(**c) for c in d.get("claims", [])]
        for raw in d.get("summaries", []):
            summary = Summary(**raw)
            res.stored[summary.key()] = summary
        return res


class RunScope:
    """What the suites of one run share: ``values`` such as the VM boots a suite made, for a later suite
    that would only repeat the very same boot (:meth:`benchmarks.suites._vm.Booter.earlier`). Samples are
    never shared: each suite records its own, and says in its notes what it read back."""

    def __init__(self) -> None:
        self.values: dict = {}


class SuiteContext:
    """What a suite's ``run`` gets: the run's settings, sample recording, progress and Ctrl-C state."""

    def __init__(self, suite: str, *, quick: bool = True, workdir: Path | None = None,
                 record: Callable[[Sample], None] | None = None,
                 progress: Callable[[str, int], Callable[[int], None]] | None = None,
                 scope: RunScope | None = None, budget: float | None = None):
        self.suite = suite
        self.quick = quick
        self.workdir = workdir  # a private temp dir for this suite, removed by the runner afterwards
        self.samples: list[Sample] = []
        self.notes: list[str] = []
        self.facts: dict = {}
        self._record = record
        self._progress = progress
        self.scope = scope if scope is not None else RunScope()  # without a runner: this suite's own
        self.budget = budget  # seconds for optional rounds (``rounds_within``); None: no limit
        self.started = time.monotonic()

    def sample(self, method: str, metric: str, value: float, unit: str = "ms", round: int = 0,
               **labels) -> Sample:
        s = Sample(self.suite, method, metric, float(value), unit, round, labels)
        self.samples.append(s)
        if self._record:
            self._record(s)
        return s

    def note(self, text: str) -> None:
        """A sentence for the report's section (caveats, what a row means, which accelerator)."""
        self.notes.append(text)

    def fact(self, key: str, value) -> None:
        """A scalar fact about this run (e.g. ``accelerator="tcg"``), kept in results.json."""
        self.facts[key] = value

    def progress(self, description: str, total: int) -> Callable[..., None]:
        """Start a progress task; returns ``advance(n=1, method=None)`` (``method`` names what runs now).
        A no-op without a terminal."""
        if self._progress:
            return self._progress(description, total)
        return lambda n=1, method=None: None

    @staticmethod
    def rounds(methods: list[str], n: int, warmup: int = 1) -> Iterator[tuple[int, str]]:
        """(round, method) pairs: ``warmup`` unrecorded rounds (round < 0), then n rounds, each running
        every method once in a rotating order so that drift and noise hit all methods alike."""
        for r in itertools.chain(range(-warmup, 0), range(n)):
            shift = r % len(methods) if methods else 0
            for m in methods[shift:] + methods[:shift]:
                yield r, m

    def over_budget(self) -> bool:
        """True once this suite has run longer than its time budget (never without one)."""
        return self.budget is not None and time.monotonic() - self.started > self.budget

    def rounds_within(self, methods: list[str], n: int, warmup: int = 1, *, least: int = 1,
                      what: str = "rounds") -> Iterator[tuple[int, str]]:
        """:meth:`rounds`, but no new round starts once the suite's budget is used, after at least
        ``least`` rounds: a loaded host gets fewer rounds, never a longer run. Whole rounds only, so
        every method keeps the same n; when it stops early the notes say so and the fact
        ``rounds:<what>`` keeps planned and done (each summary's n says it too)."""
        done = 0
        for r, m in self.rounds(methods, n, warmup):
            if r >= done:  # the first pair of round r
                if r >= least and self.over_budget():
                    self.note(f"{what}: {r} of {n} rounds, then this suite's time budget "
                              f"({self.budget:.0f} s) was used up; the medians have n = {r}")
                    break
                done = r + 1
            yield r, m
        self.fact(f"rounds:{what}", {"planned": n, "done": done})
def log_axes_over_n(ax, xlabel: str, ylabel: str, title: str) -> None:
    """A suite's chart over N = 1, 2, 4, ...: x on a log2 scale with plain numbers, y log, a legend."""
    from matplotlib.ticker import ScalarFormatter

    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)


def as_dict(obj) -> dict:
    return asdict(obj)
