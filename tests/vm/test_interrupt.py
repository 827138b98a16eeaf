"""``vmvc vm boot`` interrupted from outside: Ctrl-C and even SIGKILL leave no QEMU behind."""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from runtime.vm.boot import TMP_PREFIX, sweep_stale
from tests.vm.conftest import alive

pytestmark = [pytest.mark.qemu, pytest.mark.busybox, pytest.mark.slow]


def _start_boot(kernel: str, root) -> tuple[subprocess.Popen, int]:
    """Start a CLI boot that would take a while; return it and its QEMU child's pid."""
    env = {**os.environ, "VMVC_ROOT": str(root)}
    proc = subprocess.Popen([sys.executable, "-m", "runtime.cli", "vm", "boot", "--kernel", kernel,
                             "--accel", "tcg", "--json", "--workload", "sleep 30"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        kids = subprocess.run(["pgrep", "-P", str(proc.pid), "qemu-system"], capture_output=True, text=True,
                              timeout=60)
        if kids.stdout.split():
            return proc, int(kids.stdout.split()[0])
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait(timeout=30)
    raise AssertionError(f"no qemu appeared: {proc.stderr.read().decode()[-300:]}")


def test_ctrl_c_ends_the_boot_with_130_and_kills_qemu(guest_kernel, vmvc_root, no_leaks):
    proc, qemu_pid = _start_boot(guest_kernel.path, vmvc_root)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    proc.stderr.close()
    deadline = time.monotonic() + 5
    while alive(qemu_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(qemu_pid)


def test_even_sigkill_of_vmvc_takes_qemu_down(guest_kernel, vmvc_root, no_leaks):
    proc, qemu_pid = _start_boot(guest_kernel.path, vmvc_root)
    proc.kill()                      # no finally blocks run: PR_SET_PDEATHSIG must do the work
    proc.wait(timeout=30)
    proc.stderr.close()
    deadline = time.monotonic() + 5
    while alive(qemu_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(qemu_pid)
    left = glob.glob(os.path.join(tempfile.gettempdir(), f"{TMP_PREFIX}{proc.pid}-*"))
    assert left                      # the dead vmvc could not clean up its initramfs...
    assert set(left) <= set(sweep_stale())   # ...so the next boot sweeps it
    assert not glob.glob(os.path.join(tempfile.gettempdir(), f"{TMP_PREFIX}{proc.pid}-*"))
