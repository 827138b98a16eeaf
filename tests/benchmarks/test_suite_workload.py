"""The workload suite: a tiny real run through the suite contract, line timing, and verdicts from fixed
results (ratios to native, Felter's published ratios beside them)."""

from __future__ import annotations

import pytest

from benchmarks.suite import Results, Sample, SuiteContext
from benchmarks.suites import workload
from runtime.vm.timeline import Line
from tests.benchmarks.test_suite_storm import real

TINY = {
    "rounds": 1,
    "fio_rounds": 1,
    "vm_rounds": 1,
    "cpu": 20000,  # large enough that every stage lasts measurably long (a rate needs a duration)
    "mem": 4,
    "syscall": 50000,
    "fio_s": 1,
    "fio_mib": 4,
}


@real
@pytest.mark.fio
def test_a_tiny_workload_run_measures_every_method(bench_env, tmp_path, monkeypatch, no_leaks):
    monkeypatch.setattr(workload, "plan", lambda quick: TINY)
    ctx = SuiteContext("workload", quick=True, workdir=tmp_path)
    workload.run(ctx)
    res = Results(ctx.samples, {"workload": ctx.facts})
    missing = [(m, t) for m in ("native", "container") for t in workload.TESTS
               if not (res.median("workload", m, t) or 0) > 0]
    assert not missing, (missing, ctx.notes)
    for test in ("cpu", "mem", "syscall"):
        assert res.median("workload", "vm", test) > 0
        assert (res.median("workload", workload.UNCONFINED, test) or 0) > 0, (
            sorted({(x.method, x.metric, x.round) for x in ctx.samples}), ctx.notes)
    assert res.get("workload", "vm", "rand_read") is None  # no fio in the guest: no row, not a zero
    (c7,) = workload.claims(res)
    assert c7.verdict != "not measured here" and "VM not measured" in c7.measured
    assert not list(tmp_path.iterdir())  # the fio file is gone


def test_rates_come_from_the_arrival_of_the_bracket_lines():
    lines = [
        Line(0.0, "B cpu"),
        Line(0.5, "E cpu"),
        Line(0.5, "B mem"),
        Line(1.5, "E mem"),
        Line(1.5, "B syscall"),
        Line(2.0, "E syscall"),
        Line(2.0, "[ 1.0] kernel noise"),
    ]
    got = workload.rates(lines, {"cpu": 1000, "mem": 2, "syscall": 500})
    assert got == {"cpu": 2000.0, "mem": 128.0, "syscall": 2000.0}
    assert workload.rates(lines[:1], {"cpu": 10}) == {}  # no end line: no rate


def test_the_same_script_everywhere_only_sizes_differ():
    import re

    vm, native = workload.script(**workload.work(TINY, 0.1)), workload.script(**workload.work(TINY))
    assert vm != native and re.sub(r"\d+", "N", vm) == re.sub(r"\d+", "N", native)


def fixed(ct: float = 1.0, vm: float = 0.05, accel: str = "tcg") -> Results:
    s = []
    for r in range(3):
        for test in workload.TESTS:
            s.append(Sample("workload", "native", test, 100.0, "x", r))
            s.append(Sample("workload", "container", test, 100.0 * ct, "x", r))
            if test in ("cpu", "mem", "syscall"):
                s.append(Sample("workload", "vm", test, 100.0 * vm, "x", r))
    return Results(s, {"workload": {"accelerator": accel}})


def test_syscall_cost_is_put_on_seccomp_not_on_the_claim():
    res = fixed()
    res.samples = [x for x in res.samples if not (x.method == "container" and x.metric == "syscall")]
    for r in range(3):
        res.samples += [
            Sample("workload", "container", "syscall", 70.0, "x", r),
            Sample("workload", workload.UNCONFINED, "syscall", 99.0, "x", r),
        ]
    (c7,) = workload.claims(res)
    assert c7.verdict == "reproduced with a caveat"
    assert "syscall: container 0.70 (0.99 without seccomp)" in c7.measured and "seccomp filter" in c7.reason


def test_verdicts_come_from_the_ratios():
    (c7,) = workload.claims(fixed())
    assert c7.verdict == "reproduced with a caveat" and "emulation" in c7.reason
    assert (
        "cpu: container 1.00, VM 0.05" in c7.measured
        and "rand_read: container 1.00, VM not measured" in c7.measured
    )
    assert "0.55" in c7.published and "Felter" in c7.published
    assert workload.claims(fixed(accel="kvm", vm=0.97))[0].verdict == "reproduced"
    assert workload.claims(fixed(ct=0.5))[0].verdict == "not reproduced here"
    noisy = fixed()
    for r, v in enumerate((40.0, 100.0, 160.0)):  # native's own rounds spread wide
        noisy.samples.append(Sample("workload", "native", "rand_read", v, "x", 3 + r))
    noisy.samples += [Sample("workload", "container", "rand_read", v, "x", 3) for v in (20.0, 30.0, 40.0)]
    row = workload.claims(noisy)[0]
    assert row.verdict == "reproduced with a caveat" and "IQRs overlap" in row.reason
    assert workload.claims(Results([], {}))[0].verdict == "not measured here"


def test_quick_and_full_plans_set_the_same_knobs():
    assert workload.plan(True).keys() == workload.plan(False).keys()
