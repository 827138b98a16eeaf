"""The contract between `vmvc bench` and its suites: what a suite module exposes and what it may call.

A suite is one module in ``benchmarks/suites/`` (one concept per file, as SimPy keeps its concepts)::

    NAME = "workload"                 # the --suite name
    TITLE = "Workload overhead"       # the report's section title
    NEEDS = ["root", "fio"]           # doctor check names; the runner skips the suite with the doctor's
                                      # reason when one is not usable, and the report lists it as skipped
    CLAIMS = ["C7"]                   # claim ids (shared/docs/claims.md) this suite gives evidence for

    def run(ctx: SuiteContext) -> None:      # measure; record with ctx.sample(...)
    def claims(res: Results) -> list[ClaimRow]   # verdicts from *this run's* numbers (never constants)
    def chart(res: Results, ax) -> None          # optional: draw the suite's chart on a matplotlib Axes

``run`` records every measurement as a :class:`Sample`; the runner summarises (median, IQR, n) per
(suite, method, metric, labels). Rounds must be interleaved across methods (``ctx.rounds``) so the noise
of a shared host hits every method alike and ratios measured in one run hold.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

VERDICTS = ("reproduced", "reproduced with a caveat", "not reproduced here", "not measured here")


@dataclass
class Sample:
    """One measured value: ``value`` in ``unit`` for ``method`` (e.g. "crun") and ``metric`` (e.g. "start")."""

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
    """All samples and summaries of a run, with look-ups suites use in their ``claims``/``chart``."""

    def __init__(self, samples: Iterable[Sample] = (), facts: dict | None = None):
        self.samples: list[Sample] = list(samples)
        self.facts: dict = facts or {}  # {suite: {key: value}} e.g. accelerator, host notes

    def summaries(self, suite: str | None = None) -> list[Summary]:
        groups: dict[tuple, list[Sample]] = {}
        for s in self.samples:
            if suite is None or s.suite == suite:
                groups.setdefault(s.key(), []).append(s)
        return [Summary.of(g) for g in groups.values()]

    def get(self, suite: str, method: str, metric: str, **labels) -> Summary | None:
        """The summary for exactly these labels (None when not measured)."""
        chosen = [s for s in self.samples if s.suite == suite and s.method == method
                  and s.metric == metric and s.labels == labels]
        return Summary.of(chosen) if chosen else None

    def median(self, suite: str, method: str, metric: str, **labels) -> float | None:
        s = self.get(suite, method, metric, **labels)
        return s.median if s else None


class SuiteContext:
    """What a suite's ``run`` gets: the run's settings, sample recording, progress and Ctrl-C state."""

    def __init__(self, suite: str, *, quick: bool = True, workdir: Path | None = None,
                 record: Callable[[Sample], None] | None = None,
                 progress: Callable[[str, int], Callable[[int], None]] | None = None):
        self.suite = suite
        self.quick = quick
        self.workdir = workdir  # a private temp dir for this suite, removed by the runner afterwards
        self.samples: list[Sample] = []
        self.notes: list[str] = []
        self.facts: dict = {}
        self._record = record
        self._progress = progress

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

    def progress(self, description: str, total: int) -> Callable[[int], None]:
        """Start a progress task; returns ``advance(n=1)``. A no-op without a terminal."""
        if self._progress:
            return self._progress(description, total)
        return lambda n=1: None

    @staticmethod
    def rounds(methods: list[str], n: int, warmup: int = 1) -> Iterator[tuple[int, str]]:
        """(round, method) pairs: ``warmup`` unrecorded rounds (round < 0), then n rounds, each running
        every method once in a rotating order so that drift and noise hit all methods alike."""
        for r in itertools.chain(range(-warmup, 0), range(n)):
            shift = r % len(methods) if methods else 0
            for m in methods[shift:] + methods[:shift]:
                yield r, m


def as_dict(obj) -> dict:
    return asdict(obj)
