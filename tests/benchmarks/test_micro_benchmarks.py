"""The pytest-benchmark micro benchmarks (``pytest benchmarks --benchmark-only``) run here as plain tests:
with the project's ``--benchmark-disable`` each runs once, so CI checks their code paths."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.root
@pytest.mark.overlay
@pytest.mark.cgroups
@pytest.mark.busybox
@pytest.mark.kvm
def test_micro_benchmarks_run_once_each(tmp_path, no_leaks):
    r = subprocess.run([sys.executable, "-m", "pytest", "benchmarks", "-q", "-p", "no:cacheprovider",
                        "--basetemp", str(tmp_path / "bt")], cwd=ROOT, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout[-2000:]
    assert "4 passed" in r.stdout and "skipped" not in r.stdout
