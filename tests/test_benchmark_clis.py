"""Every benchmark harness the README names answers ``--help`` (and so parses its arguments)."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize("name", ["startup", "density", "vm_boot", "image_import", "sim_perf"])
def test_help(name):
    r = subprocess.run([sys.executable, "-m", f"benchmarks.{name}", "--help"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith(f"usage: python -m benchmarks.{name}")
