"""Harnesses that measure the real parts side by side with their anchors, and the report.

>>> from benchmarks import load_results
>>> res = load_results()              # the results recorded on this kind of host (no root needed)
>>> res.median("startup", "engine", "start")   # doctest: +SKIP
5.9
"""

from __future__ import annotations

import os

RECORDED = os.path.join(os.path.dirname(__file__), "recorded", "this-kind.json")  # see benchmarks/recorded


def load_results(path: str | os.PathLike | None = None):
    """A :class:`benchmarks.suite.Results` from a ``vmvc bench`` results.json; by default the recorded
    results shipped in the repo (``benchmarks/recorded/this-kind.json``)."""
    from benchmarks.report.data import load

    return load(path or RECORDED)
