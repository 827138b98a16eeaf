"""Smoke test of the import benchmark harness (numbers come from benchmarks/, not from tests)."""

from benchmarks.image_import import plot, run


def test_import_benchmark_runs(benchmark, vmvc_root):
    result = benchmark(run, size_mb=2, repeats=1)
    assert result["rootfs"]["files"] > 10
    assert result["tar_x_s"] > 0 and result["vmvc_import_s"] > 0 and result["ratio"] > 0
    assert result["resolve_us"] > 0 and result["filesystem"]
    assert not [p for p in (vmvc_root / "images" / "tmp").iterdir()]  # it cleaned up after itself


def test_import_benchmark_plot(tmp_path):
    sample = {"rootfs": {"files": 10, "tar_bytes": 1_000_000}, "tar_x_s": 0.1, "vmvc_import_s": 0.13,
              "ratio": 1.3, "tar_x_samples": [0.1, 0.11], "vmvc_import_samples": [0.12, 0.14],
              "filesystem": "ext4"}
    path = plot({"store_fs": sample, "tmpfs": {**sample, "filesystem": "tmpfs"}}, str(tmp_path / "i.png"))
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
