"""The escape attempts of :mod:`runtime.security.attempts`, through the real engine: all blocked by
default; without the seccomp filter only what the filter alone stops gets through."""

from __future__ import annotations

from runtime.security import attempts
from tests.containers.conftest import REAL, engine  # noqa: F401  (fixture)

pytestmark = REAL

SECCOMP_ONLY = {"user namespace", "syscall keyctl", "syscall unshare_user", "syscall i386_call"}


def test_every_escape_attempt_is_blocked(engine):  # noqa: F811
    results = attempts.run(engine)
    assert len(results) == len(attempts.ATTEMPTS) >= 25
    assert [r["name"] for r in results if not r["blocked"]] == []
    assert all(r["code"] != -1 for r in results)  # every attempt ran and reported


def test_without_the_filter_the_other_defences_still_hold(engine):  # noqa: F811
    results = attempts.run(engine, ["seccomp=unconfined"])
    through = {r["name"] for r in results if not r["blocked"]}
    assert through <= SECCOMP_ONLY, through  # mounts, cgroups, devices, /proc, clock: still refused
    assert "user namespace" in through  # the filter is what makes the difference there


def test_the_escapes_benchmark_reports_the_counts(monkeypatch, capsys, no_leaks):
    from benchmarks import escapes

    assert escapes.main([]) == 0
    out = capsys.readouterr().out
    assert f"{len(attempts.ATTEMPTS)} of {len(attempts.ATTEMPTS)} blocked" in out
