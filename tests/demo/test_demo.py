"""``vmvc demo`` in a real terminal (tmux, 100x30): it runs to its summary, its recording is written and
opens, and Ctrl-C in the middle of the VM boot leaves no QEMU and no container running."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time

import psutil
import pytest

VMVC = os.path.join(os.path.dirname(sys.executable), "vmvc")
pytestmark = [pytest.mark.root, pytest.mark.namespaces, pytest.mark.overlay, pytest.mark.cgroups,
              pytest.mark.qemu, pytest.mark.slow]


def tmux(*args) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=30).stdout


@pytest.fixture
def session(tmp_path):
    if not shutil.which("tmux"):
        pytest.fail("tmux is needed (scripts/setup.sh installs it)")
    name = f"vmvc-demo-{os.getpid()}"
    yield name, {"VMVC_ROOT": str(tmp_path / "state")}
    tmux("kill-session", "-t", name)
    subprocess.run([VMVC, "system", "stop"], env={**os.environ, "VMVC_ROOT": str(tmp_path / "state")},
                   capture_output=True, timeout=60)


def start(name, env, cmd):
    exports = " ".join(f"{k}={v}" for k, v in env.items())
    tmux("new-session", "-d", "-s", name, "-x", "100", "-y", "30",
         f"{exports} {cmd}; echo DEMO-EXIT=$?; sleep 120")


def wait_for(name, pattern, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        screen = tmux("capture-pane", "-p", "-t", name)
        if re.search(pattern, screen):
            return screen
        time.sleep(1)
    raise AssertionError(f"{pattern!r} never showed; screen:\n{tmux('capture-pane', '-p', '-t', name)}")


def test_runs_to_the_summary_and_records(session, tmp_path):
    name, env = session
    out = tmp_path / "race.html"
    start(name, env, f"{VMVC} demo -n 3 --record {out}")
    screen = wait_for(name, r"DEMO-EXIT=\d+", 600)
    assert "DEMO-EXIT=0" in screen, screen
    assert "all containers done" in screen and "VM ready" in screen
    assert all(len(line) <= 100 for line in screen.splitlines())
    page = out.read_text()
    events = json.loads(re.search(r"const events = (\[.*?\]);", page, re.S).group(1))
    lanes = {e["lane"] for e in events}
    assert lanes == {"vm", "c1", "c2", "c3"} and any(e["kind"] == "ready" for e in events)
    if shutil.which("chromium"):
        r = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                            "--virtual-time-budget=10000", "--dump-dom", f"file://{out}"],
                           capture_output=True, text=True, timeout=120)
        assert "bar-vm" in r.stdout and "VM / all containers" in r.stdout


def test_ctrl_c_during_the_boot_leaves_nothing(session):
    name, env = session
    start(name, env, f"{VMVC} demo -n 2")
    wait_for(name, r"booting…", 300)
    pane = psutil.Process(int(tmux("display", "-p", "-t", name, "#{pane_pid}").strip()))
    deadline = time.monotonic() + 120
    qemus = []
    while not qemus and time.monotonic() < deadline:
        qemus = [p for p in pane.children(recursive=True) if "qemu" in p.name()]
        time.sleep(0.2)
    assert qemus, "QEMU should be booting"
    tmux("send-keys", "-t", name, "C-c")
    screen = wait_for(name, r"DEMO-EXIT=\d+", 60)
    assert "DEMO-EXIT=130" in screen, screen
    gone, alive = psutil.wait_procs(qemus, timeout=10)
    assert not alive
    left = [p for p in pane.children(recursive=True) if p.name() not in ("sleep",)]
    assert not left, left
