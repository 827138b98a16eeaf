"""Micro benchmarks (pytest-benchmark): ``pytest benchmarks --benchmark-only``.

The project's pytest options disable benchmarks (``--benchmark-disable``, so the test suite runs each
once as a plain test); asking for ``--benchmark-only`` here turns them back on instead of failing.
"""

from __future__ import annotations

import shutil
import tempfile

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    if config.getoption("benchmark_only", False):
        config.option.benchmark_enable = True


def need(*checks: str) -> None:
    """Skip with the doctor's reason unless every check is usable here."""
    from runtime.doctor import host

    for name in checks:
        if not host().ready(name):
            pytest.skip(f"needs {name}: {host().reason(name)}")


@pytest.fixture
def private_engine(monkeypatch):
    """An engine on a private state root (short: its unix socket path must fit), its spawner warm;
    stopped and removed afterwards."""
    need("root", "overlayfs", "cgroups", "busybox")
    root = tempfile.mkdtemp(prefix="vmvc-mb-", dir="/tmp")
    monkeypatch.setenv("VMVC_ROOT", root)
    from runtime.containers import Engine, Spec

    engine = Engine()
    try:
        engine.run(Spec("busybox", ["true"], auto_remove=True))
        yield engine
    finally:
        engine.shutdown()
        shutil.rmtree(root, ignore_errors=True)
