"""Results recorded on this kind of host (``this-kind.json``), shipped so that notebooks and docs work
without root: ``benchmarks.load_results()``.

The file is a ``vmvc bench --full`` results.json kept small (every summary, three samples per
measurement, compact JSON). A suite that failed in that run may be taken from another run's file; the file's
``meta.merged_from`` then says which suites came from where::

    python -m benchmarks.recorded vmvc-report/results.json [other-run/results.json ...]
"""

from __future__ import annotations

import os

HERE = os.path.join(os.path.dirname(__file__), "this-kind.json")


def merge(paths: list[str]):
    """The first file's results, with every suite that a later file ran replaced by that file's."""
    from benchmarks.report import data

    base = data.load(paths[0])
    base.meta["merged_from"] = {paths[0]: sorted(base.suites)}
    for path in paths[1:]:
        other = data.load(path)
        names = set(other.suites)
        base.samples = [s for s in base.samples if s.suite not in names] + other.samples
        base.stored = {k: v for k, v in base.stored.items() if k[0] not in names} | other.stored
        for name in names:
            base.suites[name] = other.suites[name]
            base.facts.pop(name, None)
            base.notes.pop(name, None)
            if name in other.facts:
                base.facts[name] = other.facts[name]
            if name in other.notes:
                base.notes[name] = other.notes[name]
        base.meta["merged_from"][path] = sorted(names)
    return base


def record(paths: list[str], dest: str = HERE, samples_per_key: int = 3) -> str:
    """Merge ``paths`` (see :func:`merge`), recompute the claims table from the merged numbers, write it."""
    from benchmarks import claims
    from benchmarks.report import data
    from benchmarks.runner import discover

    res = merge(paths)
    res.claims = claims.evaluate(res, discover())
    data.write_json(res, dest, samples_per_key=samples_per_key, compact=True)
    return dest
