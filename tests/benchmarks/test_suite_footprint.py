"""The footprint suite: a tiny real run through the suite contract, and verdicts from fixed results."""

from __future__ import annotations

import pytest

from benchmarks.suite import Results, Sample, SuiteContext
from benchmarks.suites import footprint
from tests.benchmarks.test_suite_storm import real

TINY = {"ct_ns": (1, 2), "vm_n": 1, "settle": 0.1}


@real
def test_a_tiny_footprint_run_measures_memory_and_disk(bench_env, tmp_path, monkeypatch, no_leaks):
    monkeypatch.setattr(footprint, "plan", lambda quick: TINY)
    monkeypatch.setattr(footprint, "DISK_NS", (1, 2))
    ctx = SuiteContext("footprint", quick=True, workdir=tmp_path)
    footprint.run(ctx)
    res = Results(ctx.samples, {"footprint": ctx.facts})
    for n in (1, 2):
        assert res.median("footprint", "container", "pss_total", n=n) > 0
        assert res.median("footprint", "container", "disk_own_total", n=n) > 0
        assert res.median("footprint", "vm_full_copy", "disk_total", n=n) > 0
    assert res.median("footprint", "vm", "qemu_pss", n=1) > res.median(
        "footprint", "container", "pss_total", n=2
    )
    assert 0 < res.median("footprint", "vm", "guest_used", n=1) < 256  # the guest's own /proc/meminfo
    # two full copies take twice one; two overlays add little to the shared base
    assert res.median("footprint", "vm_full_copy", "disk_total", n=2) == pytest.approx(
        2 * res.median("footprint", "vm_full_copy", "disk_total", n=1), rel=0.01
    )
    cow1, cow2 = (res.median("footprint", "vm_qcow2_overlay", "disk_total", n=n) for n in (1, 2))
    assert cow1 < cow2 < 1.5 * cow1
    rows = {r.id: r for r in footprint.claims(res)}
    assert {rows[c].verdict for c in ("C1", "C6", "C11")} <= {"reproduced", "reproduced with a caveat"}
    assert "2 containers of one image" in rows["C6"].measured
    assert not list(tmp_path.iterdir())  # the disk images are gone


def fixed(ct_kib: float = 60.0, vm_mib: float = 200.0, accel: str = "tcg") -> Results:
    s = []
    for n in (1, 2, 4, 8, 16):
        s += [
            Sample("footprint", "container", "pss_total", 1.0 + n * ct_kib / 1024, "MiB", 0, {"n": n}),
            Sample("footprint", "container", "disk_total", 2.0 + n * 0.035, "MiB", 0, {"n": n}),
            Sample("footprint", "container", "disk_own_total", n * 0.035, "MiB", 0, {"n": n}),
            Sample("footprint", "vm_full_copy", "disk_total", n * 15.7, "MiB", 0, {"n": n}),
            Sample("footprint", "vm_qcow2_overlay", "disk_total", 19.8 + n * 0.19, "MiB", 0, {"n": n}),
        ]
    for n in (1, 2):
        s.append(Sample("footprint", "vm", "pss_total", n * vm_mib, "MiB", 0, {"n": n}))
        s.append(Sample("footprint", "vm", "qemu_pss", vm_mib, "MiB", 0, {"n": n}))
    s.append(Sample("footprint", "container", "image_layers", 1.96, "MiB"))
    return Results(s, {"footprint": {"accelerator": accel, "host_mem_total_mib": 24000.0}})


def row(res: Results, cid: str):
    return next(r for r in footprint.claims(res) if r.id == cid)


def test_verdicts_come_from_the_numbers():
    c1 = row(fixed(), "C1")
    assert c1.verdict == "reproduced with a caveat" and "60 KiB" in c1.measured and "200 MiB" in c1.measured
    assert "15.7 MiB" in c1.measured and "TCG" in c1.reason and "5 MiB" in c1.published
    assert row(fixed(ct_kib=300 * 1024, vm_mib=200), "C1").verdict == "not reproduced here"
    c6 = row(fixed(), "C6")
    assert c6.verdict == "reproduced" and "1.96 MiB" in c6.measured and "31.4 MiB" in c6.measured
    assert "16 containers" in c6.measured
    c11 = row(fixed(), "C11")
    assert c11.verdict == "reproduced with a caveat" and "~120 idle VMs" in c11.measured
    assert "extrapolated" in c11.reason
    assert row(Results([], {}), "C11").verdict == "not measured here"


def test_slope_ignores_fixed_costs():
    assert footprint.slope([(1, 10.0), (2, 12.0), (4, 16.0)]) == pytest.approx(2.0)
    assert footprint.slope([(1, 3.0)]) is None


def test_quick_and_full_plans_set_the_same_knobs():
    assert footprint.plan(True).keys() == footprint.plan(False).keys()
