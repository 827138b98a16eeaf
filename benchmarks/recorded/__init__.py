"""Results recorded on this kind of host (``this-kind.json``), shipped so that notebooks and docs work
without root: ``benchmarks.load_results()``.

The file is a ``vmvc bench --full`` results.json kept small (every summary, five samples per
measurement)::

    python -m benchmarks.recorded vmvc-report/results.json
"""

from __future__ import annotations

import os

HERE = os.path.join(os.path.dirname(__file__), "this-kind.json")


def record(src: str, dest: str = HERE, samples_per_key: int = 5) -> str:
    from benchmarks.report import data

    data.write_json(data.load(src), dest, samples_per_key=samples_per_key)
    return dest
