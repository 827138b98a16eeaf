"""Suites that cannot measure yet because the feature they time does not exist: one line of report."""

from __future__ import annotations

from benchmarks.suite import ClaimRow, NotMeasured


def not_yet(claim: str, why: str, prefix: str = ""):
    """``run`` and ``claims`` for a suite that says, in the report and the claims table, why it is empty."""

    def run(ctx) -> None:
        raise NotMeasured(why)

    def claims(res) -> list[ClaimRow]:
        return [ClaimRow(claim, "", "not measured here", prefix + why)]

    return run, claims
