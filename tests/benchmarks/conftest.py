"""Fixtures for the ``vmvc bench`` tests: a guest kernel from the shared test cache, and a private
temp dir for a whole ``vmvc bench`` process (its TMPDIR, state root and output)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.leaks import Scope, assert_no_leaks, snapshot
from tests.vm.conftest import KERNEL_CACHE


@pytest.fixture(scope="session")
def bench_kernel():
    """A verified cloud kernel from the shared cache (fetched once), for the suites' VM boots."""
    from runtime.vm import kernel

    k, _ = kernel.fetch(cache=KERNEL_CACHE)
    return k.path


@pytest.fixture
def bench_env(bench_kernel, monkeypatch):
    """Environment for a ``vmvc bench`` run: its TMPDIR (every temp dir it makes: state roots, dockerd,
    initramfs) and its state root in one short private dir (unix socket paths must stay short), so a test
    can see what is left (checked afterwards, like ``no_leaks``); the kernel from the shared cache."""
    base = Path(tempfile.mkdtemp(prefix="vmvc-bt-", dir="/tmp"))
    tmp = base / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "VMVC_ROOT": str(base / "root"),
           "VMVC_BENCH_KERNEL": bench_kernel}
    for k in ("TMPDIR", "VMVC_ROOT", "VMVC_BENCH_KERNEL"):
        monkeypatch.setenv(k, env[k])
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    before = snapshot(Scope.of(str(base), tmp=str(tmp)))
    try:
        yield env
        assert_no_leaks(before, settle=5.0)  # processes, mounts, cgroups, vmvc* temp dirs, fds
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def report_fonts_loaded(tmp_path_factory):
    """matplotlib keeps the font files it has used open (a cache, not a leak): draw a report first."""
    from benchmarks import load_results, report
    from benchmarks.runner import discover

    report.write(load_results(), tmp_path_factory.mktemp("fonts"), discover())
