"""The storm suite: a tiny real run through the suite contract, Ctrl-C in the middle of a VM storm, the
model fit on fixed records, and verdicts from fixed results. No timed assertions."""

from __future__ import annotations

import pytest

from benchmarks.storm_launch import Fleet
from benchmarks.suite import Results, Sample, SuiteContext
from benchmarks.suites import storm
from sim.profiles import load
from sim.records import normalise

TINY = {"ct_rounds": 1, "vm_rounds": 1, "vm_ns": (1, 2), "seeds": 1}


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setattr(storm, "plan", lambda quick: TINY)
    monkeypatch.setattr(storm, "CT_NS", (1, 2))


def real(test):
    """Marks for a test that runs containers and QEMU for real (skips with the doctor's reason)."""
    for mark in (
        pytest.mark.root,
        pytest.mark.namespaces,
        pytest.mark.overlay,
        pytest.mark.cgroups,
        pytest.mark.busybox,
        pytest.mark.qemu,
        pytest.mark.timeout(900),
    ):
        test = mark(test)
    return test


@real
def test_a_tiny_storm_records_fits_and_validates(tiny, bench_env, tmp_path, no_leaks):
    ctx = SuiteContext("storm", quick=True, workdir=tmp_path)
    storm.run(ctx)
    records = normalise(ctx.facts["records"])
    storms = {(r["kind"], r["n"]) for r in records if r["type"] == "storm"}
    assert storms == {("container", 1), ("container", 2), ("vm", 1), ("vm", 2)}
    assert all(len(r["ready_s"]) == r["n"] and min(r["ready_s"]) > 0 for r in records if r["type"] == "storm")
    vm_stages = [r for r in records if r["type"] == "stage" and r["kind"] == "vm"]
    assert vm_stages[-1]["stage"] == "workload" and "kernel_boot_to_init" in {r["stage"] for r in vm_stages}
    assert all(0 <= r["cpu_seconds"] <= r["seconds"] for r in vm_stages if "cpu_seconds" in r)
    assert any(r["cpu_seconds"] > 0 for r in vm_stages)  # QEMU's CPU was sampled per phase
    ct_stage = next(r for r in records if r["type"] == "stage" and r["kind"] == "container")
    assert 0 < ct_stage["cpu_seconds"] <= ct_stage["seconds"]
    profile = ctx.facts["profile"]
    assert set(load(profile).kinds) == {"vm", "container"} and profile["sources"][0]["id"] == "this-host"
    held = profile["measured"]["validation"]["rows"]
    assert {(r["kind"], r["n"]) for r in held} == {("container", 2), ("vm", 2)}  # only held-out storms
    res = Results(ctx.samples, {"storm": ctx.facts})
    assert res.get("storm", "model", "mape_held_out", kind="vm").n == 1
    assert any("MAPE" in n for n in ctx.notes) and ctx.facts["accelerator"] in ("tcg", "kvm")
    rows = {r.id: r for r in storm.claims(res)}
    assert rows["C3"].verdict != "not measured here" and rows["C10"].verdict != "not measured here"
    draw(res)


@real
def test_ctrl_c_during_a_vm_storm_leaves_no_qemu(tiny, bench_env, tmp_path, monkeypatch, no_leaks):
    monkeypatch.setattr(storm, "CT_NS", ())
    wait = Fleet.wait
    spawned = []

    def interrupted(self, *a, **kw):
        spawned.extend(i.proc for i in self.items if i.kind == "vm")
        if spawned:
            raise KeyboardInterrupt
        return wait(self, *a, **kw)

    monkeypatch.setattr(Fleet, "wait", interrupted)
    with pytest.raises(KeyboardInterrupt):
        storm.run(SuiteContext("storm", quick=True, workdir=tmp_path))
    assert spawned and all(p.poll() is not None for p in spawned)  # killed and reaped


def draw(res: Results) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    storm.chart(res, ax)
    assert ax.lines or ax.collections
    plt.close(fig)


# -- verdicts from fixed results ------------------------------------------------------------------
def results(
    ct_s: float, vm_s: float, accel: str = "tcg", model: tuple | None = (3.0, 0.0, 50.0, 30.0)
) -> Results:
    samples = [
        Sample("storm", "container", "ready_mean", ct_s, "s", 0, {"n": 1}),
        Sample("storm", "vm", "ready_mean", vm_s, "s", 0, {"n": 1}),
    ]
    if model:
        a_ct, d_ct, a_vm, d_vm = model
        for kind, a in (("container", a_ct), ("vm", a_vm)):
            samples.append(Sample("storm", f"model:{kind}", "absorbed", float(a == a), "share"))
        samples += [
            Sample("storm", "model:container", "absorb_s", a_ct, "s"),
            Sample("storm", "model:container", "drop_fraction", d_ct, "%"),
            Sample("storm", "model:vm", "absorb_s", a_vm, "s"),
            Sample("storm", "model:vm", "drop_fraction", d_vm, "%"),
        ]
    return Results(samples, {"storm": {"accelerator": accel}})


def row(res: Results, cid: str):
    return next(r for r in storm.claims(res) if r.id == cid)


def test_a_slow_vm_under_tcg_is_reproduced_with_a_caveat():
    c3 = row(results(0.2, 3.0, "tcg"), "C3")
    assert c3.verdict == "reproduced with a caveat" and "tcg" in c3.reason
    assert "200 ms" in c3.measured and "15×" in c3.measured and "125 ms" in c3.published


def test_kvm_and_not_slower():
    assert row(results(0.2, 1.0, "kvm"), "C3").verdict == "reproduced"
    assert row(results(0.5, 0.4, "kvm"), "C3").verdict == "not reproduced here"
    assert row(Results([], {}), "C3").verdict == "not measured here"


def test_scale_out_verdict_follows_the_model_numbers():
    c10 = row(results(0.2, 3.0), "C10")
    assert c10.verdict == "reproduced with a caveat" and "30.0%" in c10.measured and "3.0 s" in c10.measured
    worse = row(results(0.2, 3.0, model=(60.0, 40.0, 5.0, 1.0)), "C10")
    assert worse.verdict == "not reproduced here"
    never = row(results(0.2, 3.0, model=(2.0, 0.0, float("nan"), 70.0)), "C10")
    assert never.verdict == "reproduced with a caveat" and "never" in never.measured
    assert row(results(0.2, 3.0, model=None), "C10").verdict == "not measured here"


def test_fit_on_fixed_records_reports_mape_and_says_where_it_misses():
    recs = [
        {"type": "host", "cores": 2, "memory_mib": 24000},
        *[{"type": "stage", "kind": "container", "stage": "run", "seconds": 0.1, "cpu_seconds": 0.05}] * 3,
        {"type": "storm", "kind": "container", "n": 1, "ready_s": [0.1]},
        {"type": "storm", "kind": "container", "n": 4, "ready_s": [0.1, 0.12, 0.14, 0.15]},
        {"type": "storm", "kind": "container", "n": 16, "ready_s": [0.1 + 0.01 * i for i in range(16)]},
        # held out: a storm far slower than anything the fit saw, so the model must miss it
        {"type": "storm", "kind": "container", "n": 8, "ready_s": [2.0 + 0.1 * i for i in range(8)]},
    ]
    ctx = SuiteContext("storm")
    data = storm.fit_and_validate(ctx, recs, seeds=1)
    assert data["measured"]["validation"]["rows"][0]["n"] == 8
    mape, count = ctx.samples[0], ctx.samples[1]
    assert mape.metric == "mape_held_out" and mape.value > 15
    assert (count.metric, count.value, count.labels) == ("held_out_storms", 1, {"kind": "container"})
    verdict = next(n for n in ctx.notes if "ABOVE" in n)  # one storm: said to be too few to judge
    assert "1 storm, fitted on 1 single start and 2 storms of N = 4, 16" in verdict
    assert "too few held-out storms to judge the model" in verdict
    assert any(
        n.startswith("model notes (container)") and "faster than measured" in n and "'run'" in n
        for n in ctx.notes
    )


# -- the launcher, with plain processes ------------------------------------------------------------
def test_fleet_stamps_ready_lines_and_exits():
    with Fleet() as fleet:
        for _ in range(3):
            fleet.container(["sh", "-c", "echo starting; echo VMVC-READY; echo after"])
        fleet.wait("exit", timeout=30)
    for inst in fleet.items:
        assert inst.texts == ["starting", "VMVC-READY", "after"]
        assert 0 <= inst.ready <= inst.exit and inst.proc.returncode == 0


def test_fleet_says_when_an_instance_ends_without_its_ready_line():
    with Fleet() as fleet, pytest.raises(RuntimeError, match="ended before their ready line: oops"):
        fleet.container(["sh", "-c", "echo oops"])
        fleet.wait("ready", timeout=30)


def test_fleet_timeout_kills_what_it_started():
    with pytest.raises(RuntimeError, match="not done after"):
        with Fleet() as fleet:
            fleet.container(["sh", "-c", "echo VMVC-READY; exec sleep 60"])
            fleet.wait("exit", timeout=0.5)
    assert fleet.items[0].proc.poll() is not None  # closed: the whole process group was killed


def test_quick_and_full_plans_set_the_same_knobs():
    assert storm.plan(True).keys() == storm.plan(False).keys()


def test_two_held_out_storms_are_judged():
    recs = [
        {"type": "host", "cores": 2, "memory_mib": 24000},
        *[{"type": "stage", "kind": "container", "stage": "run", "seconds": 0.1, "cpu_seconds": 0.05,
           "round": r} for r in range(2)],
        *[{"type": "storm", "kind": "container", "n": n, "ready_s": [0.1] * n, "round": r}
          for r in range(2) for n in (1, 2)],
    ]
    ctx = SuiteContext("storm")
    storm.fit_and_validate(ctx, recs, seeds=1)
    note = next(n for n in ctx.notes if n.startswith("model vs held-out container storms"))
    assert "(N = 2, 8: 2 storms, fitted on 2 single starts)" in note and "too few" not in note
