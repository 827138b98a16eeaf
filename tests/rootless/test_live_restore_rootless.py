"""Live restore in rootless mode: a user's containers outlive its killed spawner and are adopted.

The rootless keeper is PID 1 of the user's PID namespace while ``/proc`` is the host's, and a rootless
container has no cgroup: recovery must tell the container by its host pid and start time alone. All
through the real CLI as the throwaway user (``conftest.user``).
"""

from __future__ import annotations

import json
import os
import signal
import time

import psutil
import pytest

pytestmark = [pytest.mark.root, pytest.mark.rootless]  # root only to make the throwaway user

PRINTER = "i=0; while :; do echo line $i; i=$((i+1)); sleep 0.1; done"


def _wait_until(pred, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not (value := pred()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return value


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _keepers(user) -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["uids", "cmdline"])
            if p.info["uids"] and p.info["uids"].real == user.uid
            and any(a.endswith("keeper.py") for a in p.info["cmdline"] or [])]


def _spawners(user) -> list[int]:
    """The user's spawners: the keeper's children (its stems, the spawner's own children, look alike)."""
    return [c.pid for k in _keepers(user) for c in k.children()
            if "runtime.containers.spawner" in " ".join(c.cmdline())]


def _lines(user, name: str) -> list[str]:
    r = user.run("logs", name)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def test_a_rootless_container_outlives_kill_9_of_the_spawner_and_is_adopted(user, no_leaks):
    try:
        _outlives(user)
    finally:
        user.run("system", "stop", "-f")


def _outlives(user) -> None:
    gate = os.path.join(user.home, "gate")
    os.mkdir(gate)
    os.chown(gate, user.uid, user.gid)
    r = user.run("run", "-d", "--name", "printer", "busybox", "sh", "-c", PRINTER)
    assert r.returncode == 0, r.stderr
    r = user.run("run", "-d", "--name", "three", "-v", f"{gate}:/gate", "busybox", "sh", "-c",
                 "while [ ! -e /gate/go ]; do sleep 0.05; done; exit 3")
    assert r.returncode == 0, r.stderr
    three = json.loads(user.run("inspect", "three").stdout)[0]["State"]["Pid"]
    _wait_until(lambda: len(_lines(user, "printer")) >= 3, what="the printer's first lines")
    pid = json.loads(user.run("inspect", "printer").stdout)[0]["State"]["Pid"]  # the host's pid
    [spawner] = _spawners(user)
    os.kill(spawner, signal.SIGKILL)
    _wait_until(lambda: not _alive(spawner), what="the spawner to die")
    assert _alive(pid)
    open(os.path.join(gate, "go"), "w").close()  # exits while no spawner is alive: the keeper keeps 3
    _wait_until(lambda: not psutil.pid_exists(three), what="the container to exit and be reaped")

    ps = user.run("ps", "--json")  # recovers as the user, starts a spawner that adopts the printer
    assert ps.returncode == 0, ps.stderr
    listed = [(c["Names"][0].lstrip("/"), c["State"]) for c in json.loads(ps.stdout)]
    assert listed == [("printer", "running")]
    assert ps.stderr == ""
    [again] = _spawners(user)
    assert again != spawner and _alive(pid)
    before = len(_lines(user, "printer"))
    _wait_until(lambda: len(_lines(user, "printer")) >= before + 5, what="the log to grow again")
    lines = _lines(user, "printer")
    assert lines == [f"line {i}" for i in range(len(lines))]  # no gap across the restart

    assert user.run("stop", "-t", "1", "printer").returncode == 0  # sh as PID 1 ignores SIGTERM
    st = json.loads(user.run("inspect", "printer").stdout)[0]["State"]
    assert (st["Status"], st["ExitCode"]) == ("exited", 137)
    assert not _alive(pid)
    st = json.loads(user.run("inspect", "three").stdout)[0]["State"]
    assert (st["Status"], st["ExitCode"], st["Error"]) == ("exited", 3, "")
    assert user.run("rm", "printer", "three").returncode == 0


def test_kill_9_of_the_rootless_keeper_ends_the_users_containers_and_their_records_say_so(user, no_leaks):
    """The keeper is PID 1 of the user's PID namespace: when it dies the kernel kills everything in it.
    The records then say the engine stopped (255), nothing of the user keeps running, the next
    command starts afresh."""
    try:
        r = user.run("run", "-d", "--name", "doomed", "busybox", "sleep", "300")
        assert r.returncode == 0, r.stderr
        pid = json.loads(user.run("inspect", "doomed").stdout)[0]["State"]["Pid"]
        [keeper] = _keepers(user)
        keeper.kill()
        _wait_until(lambda: not _alive(pid) and not _keepers(user), what="the user's processes to end")
        st = json.loads(user.run("inspect", "doomed").stdout)[0]["State"]
        assert (st["Status"], st["ExitCode"]) == ("exited", 255) and "engine stopped" in st["Error"]
        r = user.run("run", "--rm", "busybox", "echo", "again")
        assert (r.returncode, r.stdout) == (0, "again\n"), r.stderr
        assert user.run("rm", "doomed").returncode == 0
    finally:
        user.run("system", "stop", "-f")
