"""Validation: predicted vs measured storms, as MAPE (mean absolute percentage error).

For every measured storm (kind, N) the profile is simulated with the same N over a few seeds and
the mean ready time compared with the measured mean ready time; MAPE averages the absolute
percentage errors. The acceptance bar for a ``this-host`` profile is 15% over storms of 1-16
containers and 1-4 VMs, on storms the fit did not see: ``vmvc bench``'s storm suite fits on part of its
records and validates on the held-out rest (:func:`sim.records.split`). ``records`` may be any shape
:func:`sim.records.normalise` accepts.

    >>> from sim import synthetic
    >>> from sim.calibrate import profile_from_records
    >>> recs = synthetic.records(synthetic.truth(), seed=3)
    >>> v = validate(profile_from_records(recs), recs)
    >>> v.ok(0.15)
    True
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from sim.calibrate import _group, predict
from sim.errors import SimError
from sim.profiles import load


@dataclass
class Validation:
    rows: list[dict]  # kind, n, measured, predicted, ape, measured_makespan, predicted_makespan

    @property
    def mape(self) -> float:
        return float(np.mean([r["ape"] for r in self.rows])) if self.rows else float("nan")

    def mape_by_kind(self) -> dict[str, float]:
        by = defaultdict(list)
        for r in self.rows:
            by[r["kind"]].append(r["ape"])
        return {k: float(np.mean(v)) for k, v in by.items()}

    def ok(self, threshold: float = 0.15) -> bool:
        return bool(self.rows) and self.mape <= threshold

    def to_json(self) -> dict:
        return {"mape": self.mape, "mape_by_kind": self.mape_by_kind(), "rows": self.rows}


def validate(profile, records: list[dict], seeds: int = 5) -> Validation:
    """Compare ``profile``'s simulated storms with every storm in ``records``."""
    prof = load(profile)
    _, _, storms = _group(records)
    if not storms:
        raise SimError("no storm records to validate against")
    rows = []
    for kind in sorted(storms):
        by_n = defaultdict(list)
        for n, mean, span in storms[kind]:
            by_n[n].append((mean, span))
        for n in sorted(by_n):
            measured = float(np.mean([m for m, _ in by_n[n]]))
            measured_span = float(np.mean([s for _, s in by_n[n]]))
            pred, pred_span = predict(prof, kind, n, seeds=seeds, jitter=True)
            rows.append(
                {
                    "kind": kind,
                    "n": n,
                    "measured": measured,
                    "predicted": pred,
                    "ape": abs(pred - measured) / measured if measured > 0 else float("inf"),
                    "measured_makespan": measured_span,
                    "predicted_makespan": pred_span,
                }
            )
    return Validation(rows)
