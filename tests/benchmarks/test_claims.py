"""Verdicts come from the numbers in a results file, and the claims table always has C1..C13."""

from __future__ import annotations

from benchmarks import claims
from benchmarks.suite import ClaimRow, Results, Sample
from benchmarks.suites import phases, startup
from tests.benchmarks.results_fixtures import startup as startup_results


def row(rows, cid):
    return next(r for r in rows if r.id == cid)


def test_slow_vm_under_tcg_is_reproduced_with_a_caveat():
    c3 = row(startup.claims(startup_results(engine_ms=6, vm_ms=1500, accel="tcg")), "C3")
    assert c3.verdict == "reproduced with a caveat" and "TCG" in c3.reason
    assert "6.0 ms" in c3.measured and "250x" in c3.measured  # the numbers of this results file


def test_slow_vm_with_kvm_is_reproduced():
    c3 = row(startup.claims(startup_results(engine_ms=6, vm_ms=600, accel="kvm")), "C3")
    assert c3.verdict == "reproduced" and "100x" in c3.measured


def test_a_vm_almost_as_fast_as_a_container_is_not_reproduced():
    c3 = row(startup.claims(startup_results(engine_ms=20, vm_ms=60, accel="kvm")), "C3")
    assert c3.verdict == "not reproduced here" and "3x" in c3.measured


def test_kernel_evidence():
    assert row(startup.claims(startup_results(6, 1500)), "C4").verdict == "reproduced"
    other = startup_results(6, 1500, container_kernel="5.10-other")
    assert row(startup.claims(other), "C4").verdict == "not reproduced here"


def test_docker_figure_is_shown_but_c13_needs_the_daemon():
    c13 = row(startup.claims(startup_results(6, 1500, docker_ms=321)), "C13")
    assert c13.verdict == "not measured here" and "321 ms" in c13.measured and "issue 14" in c13.reason


def test_table_has_every_claim_in_order_and_says_why_one_is_missing():
    suites = {"startup": {"status": "ok", "claims": ["C3"]},
              "workload": {"status": "skipped", "reason": "fio missing: apt-get install fio",
                           "claims": ["C7"]}}
    table = claims.merge({"startup": [ClaimRow("C3", "x", "reproduced")]}, suites,
                         {"startup": ["C3"], "workload": ["C7"], "footprint": ["C1"]})
    assert [r.id for r in table] == [f"C{i}" for i in range(1, 14)]
    assert row(table, "C7").reason == "the workload suite skipped: fio missing: apt-get install fio"
    assert row(table, "C1").reason == "the footprint suite was not selected in this run"
    assert "issue 15" in row(table, "C12").reason and "issue 13" in row(table, "C9").reason
    assert row(table, "C5").verdict == "not measured here" and row(table, "C5").reason


def test_combining_suites():
    same = claims.combine("C1", [ClaimRow("C1", "a", "reproduced"), ClaimRow("C1", "b", "reproduced")])
    assert same.verdict == "reproduced" and same.measured == "a; b"
    mixed = claims.combine("C1", [ClaimRow("C1", "a", "reproduced"),
                                  ClaimRow("C1", "b", "not reproduced here", "VMs share pages")])
    assert mixed.verdict == "reproduced with a caveat" and "VMs share pages" in mixed.reason
    measured_wins = claims.combine("C9", [ClaimRow("C9", "", "not measured here", "no pull"),
                                          ClaimRow("C9", "12 s vs 1 s", "reproduced")])
    assert measured_wins.verdict == "reproduced" and measured_wins.measured == "12 s vs 1 s"
    assert claims.combine("C7", [ClaimRow("C7", "", "not measured here", "x")]).published.startswith("Felter")


def test_recorded_results_give_a_verdict_for_every_claim():
    from benchmarks import load_results
    from benchmarks.runner import discover

    res = load_results()
    table = claims.evaluate(res, discover())
    assert [r.id for r in table][:13] == [f"C{i}" for i in range(1, 14)]
    for r in table:
        assert r.verdict != "not measured here" or r.reason, r


def phases_results(accel: str, kernel_ms: float) -> Results:
    vm = f"VM microvm ({accel})"
    stack = [("qemu start-up + firmware", 100.0), ("kernel setup + decompression", kernel_ms / 2),
             ("kernel boot to /init", kernel_ms / 2), ("/init: mounts", 50.0), ("workload start", 1.0)]
    samples = [Sample("phases", vm, "phase", ms, labels={"phase": name}) for name, ms in stack]
    samples += [Sample("phases", vm, "total", sum(ms for _, ms in stack)),
                Sample("phases", vm, "kernel", kernel_ms), Sample("phases", vm, "to_workload", 1000.0),
                Sample("phases", phases.CONTAINER, "total", 6.0),
                Sample("phases", phases.CONTAINER, "phase", 6.0, labels={"phase": phases.OUTSIDE})]
    return Results(samples, {"phases": {"accelerator": accel, f"order:{vm}": [n for n, _ in stack]}})


def test_phase_claims_from_the_numbers():
    c2, c8 = phases.claims(phases_results("kvm", 800.0))
    assert c2.verdict == "reproduced" and "ran 4 steps" in c2.measured and "6.0 ms" in c2.measured
    assert c8.verdict == "reproduced" and "0.80 s = 84%" in c8.measured
    assert phases.claims(phases_results("tcg", 800.0))[1].verdict == "reproduced with a caveat"
    assert phases.claims(Results())[0].verdict == "not measured here"


def test_engine_trace_becomes_consecutive_steps():
    trace = [["client", 0.0], ["spawner", 0.25], ["stem", 0.5], ["reap", 4.0]]
    assert phases.segments(trace, 5.0) == [("spawner", 0.25), ("stem", 0.25), ("reap", 3.5),
                                           ("reply to the client", 1.0)]


def fromnothing_results(vm_s: float, ct_s: float, accel: str = "kvm", cold: bool = True) -> Results:
    labels = {"accel": accel, "machine": "q35"}
    return Results([Sample("fromnothing", "vm", "total", vm_s, "s", labels={**labels, "cold": cold}),
                    Sample("fromnothing", "vm", "boot_to_multi_user", vm_s / 4, "s", labels=labels),
                    Sample("fromnothing", "container", "total", ct_s, "s")])


def test_create_from_nothing_verdicts():
    from benchmarks.suites import fromnothing

    (c9,) = fromnothing.claims(fromnothing_results(150, 4))
    assert c9.verdict == "reproduced" and "150 s" in c9.measured and "4.0 s" in c9.measured
    (c9,) = fromnothing.claims(fromnothing_results(45, 3, accel="tcg"))
    assert c9.verdict == "reproduced with a caveat" and "under a minute" in c9.reason and "TCG" in c9.reason
    (c9,) = fromnothing.claims(fromnothing_results(807, 15, accel="tcg"))
    assert c9.verdict == "reproduced with a caveat" and c9.reason.startswith("the VM boots under TCG")
    (c9,) = fromnothing.claims(fromnothing_results(20, 10, cold=False))
    assert c9.verdict == "not reproduced here" and "cached" in c9.reason
    assert fromnothing.claims(Results()) == []
