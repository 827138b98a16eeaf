"""Fixtures for the ``vmvc bench`` tests: a guest kernel from the shared test cache, and a private
temp dir for a whole ``vmvc bench`` process (its TMPDIR, state root and output)."""

from __future__ import annotations

import os

import pytest

from tests.vm.conftest import KERNEL_CACHE


@pytest.fixture(scope="session")
def bench_kernel():
    """A verified cloud kernel from the shared cache (fetched once), for the suites' VM boots."""
    from runtime.vm import kernel

    k, _ = kernel.fetch(cache=KERNEL_CACHE)
    return k.path


@pytest.fixture
def bench_env(tmp_path, bench_kernel, monkeypatch):
    """Environment for a ``vmvc bench`` run: every temp dir, state root and the kernel in tmp_path."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "VMVC_ROOT": str(tmp_path / "root"),
           "VMVC_BENCH_KERNEL": bench_kernel}
    for k in ("TMPDIR", "VMVC_ROOT", "VMVC_BENCH_KERNEL"):
        monkeypatch.setenv(k, env[k])
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return env
