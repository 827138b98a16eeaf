"""Issue 11, the first hour, containers: docker's words, codes and signal behaviour through the launcher.

Each defect as the user met it: in a pipe where a terminal does not matter, as ``nobody`` for the
non-root case; nothing may be left running or leaked afterwards (``engine`` checks for leaks).
"""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from tests.cli.terminal import LAUNCHER, read_line_with, vmvc
from tests.containers.conftest import REAL, engine  # noqa: F401 (the fixture)

pytestmark = REAL


# -- containers: docker's words and codes ------------------------------------------------------------
@pytest.fixture
def engine_cli(engine):  # noqa: F811 (the fixture imported above)
    """The engine of this test's state root; after the test nothing of it may be left (a ``--rm``
    container is removed just after its client has its exit code)."""
    yield engine
    deadline = time.monotonic() + 30  # a hang guard, not a timed assertion
    while engine.list(all=True) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [r.name for r in engine.list(all=True)] == []


def test_docker_wording_and_codes(engine_cli):
    r = vmvc("exec", "nosuch", "ls")
    assert (r.returncode, r.stderr) == (1, "Error response from daemon: No such container: nosuch\n")
    for verb in ("ps", "run", "stats", "stop"):
        r = vmvc(verb, "--bogus")
        assert (r.returncode, r.stderr) == (125, f"unknown flag: --bogus\nSee 'vmvc {verb} --help'.\n"), verb
    r = vmvc("stop")
    assert r.returncode == 1 and r.stderr.startswith("'vmvc stop' requires at least 1 argument")


def test_run_it_without_a_terminal_is_refused_at_once(engine_cli):
    for verb in (["run", "-it", "--rm", "busybox", "sh"], ["exec", "-it", "nosuch", "sh"]):
        r = vmvc(*verb, input="echo hi\n", timeout=60)
        assert (r.returncode, r.stderr, r.stdout) == (1, "the input device is not a TTY\n", "")


def test_not_root_is_one_line_naming_what_works(engine_cli):
    r = vmvc("run", "--rm", "busybox", "true", user="nobody")
    assert r.returncode == 125 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "containers need root" in r.stderr and "vmvc sim" in r.stderr and "TCG" in r.stderr
    r = vmvc("sim", "start", "--profile", "crun", user="nobody")
    assert r.returncode == 0, r.stderr  # the model works


def _foreground(*args) -> subprocess.Popen:
    """``vmvc run --rm ARGS sh -c 'echo ready; exec sleep 300'``, returned once the client prints
    "ready": it is then pumping output, with its signal forwarding in place."""
    argv = [LAUNCHER, "run", "--rm", *args, "busybox", "sh", "-c", "echo ready; exec sleep 300"]
    client = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    read_line_with(client.stdout, "ready")
    return client


def test_ctrl_c_with_init_stops_the_container(engine_cli):
    client = _foreground("--init")
    try:
        client.send_signal(signal.SIGINT)
        assert client.wait(timeout=60) == 130  # 128 + SIGINT: the init forwarded it, sleep died of it
        assert client.stderr.read() == ""
    finally:
        client.kill()
        client.wait()


def test_ctrl_c_ignored_by_pid_1_says_why_and_the_next_kills(engine_cli):
    client = _foreground()
    try:
        client.send_signal(signal.SIGINT)
        hint = read_line_with(client.stderr, "--init")
        assert "sleep is PID 1" in hint and "SIGINT" in hint and len(hint.strip().splitlines()) == 1
        assert client.poll() is None  # PID 1 ignored it, as under docker
        client.send_signal(signal.SIGINT)
        assert client.wait(timeout=60) == 137
    finally:
        client.kill()
        client.wait()


def test_init_reaps_orphans_and_stop_is_prompt(engine_cli):
    r = vmvc("run", "--rm", "--init", "busybox", "sh", "-c", "(sleep 0.1 &); sleep 1; ps -o stat,comm")
    states = [line.split()[0] for line in r.stdout.splitlines()[1:]]
    assert r.returncode == 0 and "vmvc-init" in r.stdout and not any(st.startswith("Z") for st in states)
    assert vmvc("run", "--rm", "--init", "busybox", "sh", "-c", "exit 7").returncode == 7
    r = vmvc("run", "--rm", "--init", "busybox", "nosuchcommand")
    assert r.returncode == 127 and "cannot run the command" in r.stderr
    assert vmvc("run", "-d", "--name", "a", "--init", "busybox", "sleep", "300").returncode == 0
    assert vmvc("run", "-d", "--name", "b", "busybox", "sleep", "300").returncode == 0
    quick = vmvc("stop", "a")
    assert (quick.returncode, quick.stderr) == (0, "")
    assert "Exited (143)" in vmvc("ps", "-a").stdout  # SIGTERM reached sleep through the init
    slow = vmvc("stop", "-t", "1", "b")
    assert slow.returncode == 0 and "no SIGTERM handler" in slow.stderr and "grace period" in slow.stderr
    assert vmvc("rm", "a", "b").returncode == 0


def test_stats_in_mib_streams_until_the_container_stops(engine_cli):
    assert vmvc("run", "-d", "--name", "web", "-m", "64m", "busybox", "sleep", "300").returncode == 0
    once = vmvc("stats", "--no-stream", "web")
    assert once.returncode == 0 and "/ 64MiB" in once.stdout and "MEM %" in once.stdout
    stream = subprocess.Popen([LAUNCHER, "stats", "web"], stdout=subprocess.PIPE, text=True)
    read_line_with(stream.stdout, "web")
    read_line_with(stream.stdout, "web")  # a second sample: it streams
    assert vmvc("stop", "-t", "0", "web").returncode == 0
    assert stream.wait(timeout=60) == 0  # and ends once nothing it shows is running
    assert vmvc("rm", "web").returncode == 0


def test_system_prune_asks_then_removes_stopped_containers(engine_cli):
    cid = vmvc("create", "busybox", "true").stdout.strip()
    assert vmvc("run", "-d", "--name", "up", "busybox", "sleep", "300").returncode == 0
    no = vmvc("system", "prune", input="n\n")
    assert no.returncode == 0 and "Are you sure you want to continue? [y/N]" in no.stdout
    assert cid[:12] in vmvc("ps", "-a").stdout
    yes = vmvc("system", "prune", "-f")
    assert yes.returncode == 0 and f"Deleted Containers:\n{cid}\n" in yes.stdout
    assert "Total reclaimed space:" in yes.stdout
    assert [r.name for r in engine_cli.list(all=True)] == ["up"]
    assert vmvc("rm", "-f", "up").returncode == 0


def test_a_killed_client_leaves_no_rm_container_running(engine_cli):
    client = _foreground()
    client.kill()  # SIGKILL: no chance to tell the engine anything; the spawner sees the hang-up
    client.wait()
    deadline = time.monotonic() + 30  # a hang guard, not a timed assertion
    while engine_cli.list(all=True) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert engine_cli.list(all=True) == []
