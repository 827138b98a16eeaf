"""``vmvc system stop`` ends the engine's spawner, so nothing of vmvc keeps running."""

import subprocess
import sys

import pytest

pytestmark = [pytest.mark.root, pytest.mark.namespaces, pytest.mark.overlay, pytest.mark.cgroups]


def vmvc(*args):
    return subprocess.run([sys.executable, "-m", "runtime.cli", *args], capture_output=True, text=True,
                          timeout=120)


def spawners(root) -> list[str]:
    out = subprocess.run(["pgrep", "-f", f"spawner {root}"], capture_output=True, text=True, timeout=60)
    return out.stdout.split()


def test_stop_refuses_running_containers_then_forces(vmvc_root, no_leaks):
    assert vmvc("system", "stop").stdout.strip() == "no spawner running"
    assert vmvc("run", "-d", "--name", "s1", "busybox", "sleep", "100").returncode == 0
    assert spawners(vmvc_root)
    refused = vmvc("system", "stop")
    assert refused.returncode == 125 and "still running" in refused.stderr
    forced = vmvc("system", "stop", "-f")
    assert forced.returncode == 0 and "killed 1" in forced.stdout
    assert not spawners(vmvc_root)
    assert "Exited (137)" in vmvc("ps", "-a").stdout
    vmvc("system", "stop")
