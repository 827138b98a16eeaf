"""Smoke tests of the start-up and density benchmarks (pytest runs them once, with --benchmark-disable)."""

from __future__ import annotations

import pytest

from tests.containers.conftest import REAL

pytestmark = REAL


@pytest.mark.crun
@pytest.mark.runc
def test_startup_benchmark_runs_every_method_side_by_side(benchmark, no_leaks, vmvc_root):
    from benchmarks import startup

    result = benchmark(lambda: startup.measure(runs=1, warmup=0, idle_runs=1, idle_gap=0.1))
    assert set(result["median_ms"]) == {
        "fork_exec",
        "unshare",
        "engine",
        "crun",
        "runc",
        "cli",
        "cli_launcher",
        "cli_console",
        "python_startup",
        "python_nosite",
    }
    assert all(v > 0 for v in result["median_ms"].values())
    assert {"engine_vs_crun", "cli_vs_crun", "cli_launcher_vs_crun", "runc_vs_crun"} <= set(result["ratios"])
    assert set(result["after_idle_median_ms"]) == {"engine", "crun"}
    assert "target engine_vs_crun" in startup.report(result)


def test_density_benchmark_small_n(benchmark, no_leaks, vmvc_root):
    from benchmarks import density

    result = benchmark(lambda: density.measure(n=5))
    assert result["running_at_peak"] == 5
    assert result["start_ms_median"] > 0 and result["remove_ms_median"] > 0
    assert result["container_pss_kib_median"] > 0
    assert "KiB PSS per container" in density.report(result)


def test_cpu_quota_throughput_is_measured(benchmark, no_leaks, vmvc_root):
    from benchmarks import density

    result = benchmark(lambda: density.cpu_quota(iterations=20_000))
    assert set(result["per_second"]) == {"unlimited", "cpus=0.5"}
    assert all(n > 0 for n in result["per_second"].values())
    assert 0 < result["ratio"]
