"""Fixtures for the VM tests: one guest kernel per session, in a cache that outlives the run.

The kernel (a 26.7 MB package, 14 MB vmlinuz) is fetched once into ``/var/cache/vmvc-test/kernels``
(or ``$VMVC_TEST_KERNEL_CACHE``) and reused by every later session, so CI downloads it once.
"""

from __future__ import annotations

import os
import subprocess

import pytest

KERNEL_CACHE = os.environ.get("VMVC_TEST_KERNEL_CACHE", "/var/cache/vmvc-test/kernels")


@pytest.fixture(scope="session")
def guest_kernel():
    """A verified cloud kernel (fetched with apt-get download on first use)."""
    from runtime.vm import kernel

    k, _ = kernel.fetch(cache=KERNEL_CACHE)
    return k


@pytest.fixture
def fonts_loaded(tmp_path):
    """matplotlib keeps the font files it has used open (a cache, not a leak): load them first."""
    from runtime.vm import plot
    from runtime.vm.timeline import Line, build

    timeline = build([Line(0.1, "[    0.000000] Linux version")], 1.0, 1.0)
    plot.save({"warm-up": timeline}, str(tmp_path / "w.png"))


def qemu_pids(marker: str) -> list[int]:
    """QEMU processes whose command line mentions ``marker`` (a path unique to one test)."""
    out = subprocess.run(["pgrep", "-f", f"qemu-system-x86_64.*{marker}"], capture_output=True, text=True,
                         timeout=60)
    return [int(p) for p in out.stdout.split()]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
