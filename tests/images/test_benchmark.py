"""Smoke test of the import benchmark harness (numbers come from benchmarks/, not from tests)."""

from benchmarks.image_import import run


def test_import_benchmark_runs(benchmark, vmvc_root):
    result = benchmark(run, size_mb=2, repeats=1)
    assert result["rootfs"]["files"] > 10
    assert result["tar_x_s"] > 0 and result["vmvc_import_s"] > 0 and result["ratio"] > 0
    assert result["resolve_us"] > 0 and result["filesystem"]
    assert not [p for p in (vmvc_root / "images" / "tmp").iterdir()]  # it cleaned up after itself
