"""Smoke tests for benchmarks/sim_perf.py (no timing assertions: the numbers live in the benchmark)."""

from benchmarks import sim_perf


def test_events_per_second_reports_against_the_target(benchmark):
    out = benchmark(sim_perf.events_per_second, n=500, repeats=1)
    assert out["events"] > 500 and out["events_per_s"] > 0 and out["target"] == 150_000


def test_storm_seconds_reports_against_the_target(benchmark):
    out = benchmark(sim_perf.storm_seconds, n=500, repeats=1)
    assert out["wall_s"] > 0 and out["target_s"] == 3.0


def test_sweep_uses_worker_processes():
    out = sim_perf.sweep_cores(scenarios=8, n=20, workers=2)
    assert out["scenarios"] == 8 and out["workers_used"] >= 1 and out["children_cpu_s"] >= 0
