"""Smoke test of the VM boot benchmark harness (one run each; the numbers come from real runs)."""

from __future__ import annotations

import pytest

from benchmarks import vm_boot


@pytest.mark.qemu
@pytest.mark.busybox
@pytest.mark.kvm
@pytest.mark.slow
def test_vm_boot_benchmark_runs_side_by_side(benchmark, guest_kernel, vmvc_root, tmp_path, fonts_loaded,
                                            no_leaks):
    results = benchmark.pedantic(vm_boot.run_all, kwargs={
        "runs": 1, "machines": ("microvm",), "kernel": guest_kernel.path, "accel": "tcg", "tiny_runs": 3,
        "services": True},
        rounds=1, iterations=1)
    row = results["machines"][0]
    assert row["machine"] == "microvm" and row["accel"] == "tcg"
    assert len(row["bare_s"]) == len(row["launcher_s"]) == 1
    assert row["overhead"] == row["launcher_median_s"] / row["bare_median_s"] - 1
    assert row["command"][0] == "qemu-system-x86_64" and "-initrd" in row["command"]
    assert row["to_workload_median_s"] < row["launcher_median_s"]
    assert row["peak_rss_mib"] > 100 and "kernel boot to /init" in row["phases_median_s"]
    assert results["pyvmm"]["exits"] == {"io": 18, "hlt": 1} and results["pyvmm"]["runs"] == 3
    sv = results["services"]
    assert len(sv["to_workload_s"]["0"]) == len(sv["to_workload_s"]["8"]) == 1 and "httpd" in sv["services"]
    pvh = results["pvh"]
    assert len(pvh["runs"]["pvh"]["entry"]) == 1 and pvh["entry_saved_s"] == (
        pvh["bzimage"]["entry_median_s"] - pvh["pvh"]["entry_median_s"])
    text = vm_boot.summary(results)
    assert "microvm" in text and "distro-like services" in text and "PVH" in text
    png = vm_boot.plot(results, str(tmp_path / "vm_boot.png"))
    with open(png, "rb") as f:
        assert f.read(4) == b"\x89PNG"
