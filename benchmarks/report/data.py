"""results.json and results.csv: writing them, and reading any results file back (schema checked)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from benchmarks.suite import Results


def write_json(res: Results, path: str | Path, samples_per_key: int | None = None,
               compact: bool = False) -> Path:
    path = Path(path)
    layout = {"separators": (",", ":")} if compact else {"indent": 1}
    path.write_text(json.dumps(res.to_dict(samples_per_key), default=str, **layout) + "\n")
    return path


def to_json(res: Results) -> str:
    return json.dumps(res.to_dict(), indent=1, default=str)


def write_csv(res: Results, path: str | Path) -> Path:
    """One row per sample (suite, method, metric, value, unit, round, labels as JSON); a trimmed file's
    summaries follow as rows with ``round`` = "median"."""
    path = Path(path)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["suite", "method", "metric", "value", "unit", "round", "labels"])
        for s in res.samples:
            w.writerow([s.suite, s.method, s.metric, repr(s.value), s.unit, s.round,
                        json.dumps(s.labels, sort_keys=True)])
    return path


def load(path: str | Path) -> Results:
    """A :class:`Results` from any results.json (a run's, or the recorded one); ValueError if it is not
    one this vmvc can read."""
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(data, dict) or "schema" not in data:
        raise ValueError(f"{path}: not a vmvc bench results file (no 'schema')")
    return Results.from_dict(data)
