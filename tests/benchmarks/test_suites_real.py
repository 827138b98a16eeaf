"""The real start-up and phases suites on tiny parameters: real containers, crun, runc, a private
dockerd, pyvmm and QEMU, one or two rounds each. Checks what they record, not how fast it was."""

from __future__ import annotations

import os

import pytest

from benchmarks import claims, report, runner
from benchmarks.suites import phases, startup

pytestmark = [pytest.mark.root, pytest.mark.namespaces, pytest.mark.overlay, pytest.mark.cgroups,
              pytest.mark.busybox, pytest.mark.qemu, pytest.mark.kvm, pytest.mark.crun, pytest.mark.runc,
              pytest.mark.dockerd, pytest.mark.docker_cli, pytest.mark.timeout(900)]

TINY_STARTUP = {"rounds": 1, "warmup": 0, "vm_rounds": 1, "machines": ("microvm",), "pyvmm_runs": 2,
                "idle": 1, "extra_cli": False}
TINY_PHASES = {"vm_rounds": 1, "machines": ("microvm",), "container_rounds": 2}


def test_startup_and_phases_on_tiny_parameters(report_fonts_loaded, bench_env, monkeypatch, tmp_path):
    monkeypatch.setattr(startup, "QUICK", TINY_STARTUP)
    monkeypatch.setattr(phases, "QUICK", TINY_PHASES)
    found = runner.discover()
    res = runner.run(["startup", "phases"], quick=True, suites=found)
    assert {n: e["status"] for n, e in res.suites.items()} == {"startup": "ok", "phases": "ok"}, res.suites
    methods = {s.method for s in res.summaries("startup") if s.metric == "start"}
    assert set(startup.CONTAINER) | {"pyvmm_tiny"} <= methods, res.notes
    assert {s.n for s in res.summaries("startup") if s.metric == "start"} == {1, 2}  # pyvmm: 2 runs
    vm = [s for s in res.summaries("startup") if s.method == "qemu-microvm" and s.metric == "to_workload"]
    assert sorted(s.labels["services"] for s in vm) == [0, startup_services()]
    assert all(s.labels["accel"] == res.facts["startup"]["accelerator"] for s in vm)  # every VM row says it
    assert res.facts["startup"]["accelerator_reason"]
    assert res.get("startup", "engine", "start_after_idle").n == 1
    f = res.facts["startup"]
    assert f["container_kernel"] == f["host_kernel"] and f["vm_kernel_seen"] == f["vm_kernel"]
    assert res.facts["phases"]["order:VM microvm (" + f["accelerator"] + ")"][0].startswith("qemu start-up")
    assert res.facts["phases"]["vm_boots_reused"] == 1  # start-up's boot with services, not booted again
    assert res.get("phases", "VM microvm (" + f["accelerator"] + ")", "total").n == 1
    res.claims = claims.evaluate(res, found)
    table = {c.id: c for c in res.claims}
    for cid in ("C2", "C3", "C4", "C8"):
        assert table[cid].verdict != "not measured here", table[cid]
    paths = report.write(res, tmp_path / "out", found)
    assert {"startup", "phases"} <= {p.stem for p in (tmp_path / "out" / "charts").iterdir()}
    assert "docker run --rm" in paths["html"].read_text()
    assert not os.listdir(bench_env["TMPDIR"])  # dockerd's dir, the roots, the initramfs: all gone


def startup_services() -> int:
    from benchmarks.suites._vm import services_count

    return services_count()
