"""Nothing leaks: 200 create/start/rm cycles; a spawner killed with -9 while containers run."""

from __future__ import annotations

import os
import signal
import time

import pytest

from runtime.containers import Spec
from tests.containers.conftest import REAL

pytestmark = [*REAL, pytest.mark.slow]


def test_churn_200_cycles_leave_the_host_as_it_was(engine, no_leaks):
    for i in range(200):
        cid = engine.create(Spec("busybox", ["true"], memory=32 << 20 if i % 2 else None))
        engine.start(cid)
        assert engine.wait(cid) == 0
        engine.remove(cid)
    assert engine.list(all=True) == []
    engine.shutdown()  # the fixture checks mounts, cgroups, netns, processes and fds against the start


def _gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.01)
    return False


def test_kill_9_of_the_spawner_then_restart_is_consistent(engine, no_leaks):
    """Containers outlive a killed spawner (live restore); a new engine adopts them, and stopping
    them afterwards leaves the host as it was."""
    from runtime.cgroups import manager
    from runtime.containers import Engine

    kept = engine.create(Spec("busybox", ["sleep", "60"], name="kept"))
    engine.start(kept)
    gone = engine.create(Spec("busybox", ["sleep", "60"], name="gone", auto_remove=True))
    engine.start(gone)
    pids = [engine.inspect(c)["State"]["Pid"] for c in (kept, gone)]
    cgroups = [engine.inspect(c)["Vmvc"]["Cgroup"] for c in (kept, gone)]
    spawner = engine.spawner.request({"op": "ping"})["pid"]
    os.kill(spawner, signal.SIGKILL)
    assert _gone(spawner)
    assert not any(_gone(pid, timeout=0.2) for pid in pids)  # containers outlive their spawner
    fresh = Engine()  # a new engine (no spawner yet) reports the truth and starts one to adopt them
    assert sorted(r.name for r in fresh.list()) == ["gone", "kept"]
    assert fresh.spawner.request({"op": "ping"})["running"] == 2
    # An adopted --rm container is removed on exit. The wait is registered before the kill, as
    # docker run --rm does: a wait asked for after the removal would rightly find no such container.
    with fresh.wait_session(gone, condition="removed") as waiting:
        fresh.kill("gone")
        assert fresh.wait_result(waiting) == 137
    assert fresh.stop("kept", timeout=0)
    st = fresh.inspect("kept")["State"]
    assert st["Status"] == "exited" and not st["Running"] and st["Pid"] == 0 and st["ExitCode"] == 137
    assert [r.name for r in fresh.list(all=True)] == ["kept"]
    assert all(_gone(pid) for pid in pids)
    cg = manager()
    deadline = time.monotonic() + 10
    while any(cg.exists(name) for name in cgroups) and time.monotonic() < deadline:
        time.sleep(0.05)  # the janitor removes them
    assert not any(cg.exists(name) for name in cgroups)
    assert fresh.run(Spec("busybox", ["echo", "again"], auto_remove=True)).stdout == b"again\n"
    fresh.start("kept")  # and the old container can start again
    assert fresh.inspect("kept")["State"]["Running"]
    fresh.remove("kept", force=True)
    fresh.shutdown()


def test_kill_9_of_the_spawner_then_a_start_adopts(engine, no_leaks):
    cid = engine.create(Spec("busybox", ["sleep", "60"]))
    engine.start(cid)
    spawner = engine.spawner.request({"op": "ping"})["pid"]
    os.kill(spawner, signal.SIGKILL)
    assert _gone(spawner)
    r = engine.run(Spec("busybox", ["true"], auto_remove=True))  # starts a new spawner, which adopts
    assert r.exit_code == 0
    assert engine.table.load(cid).status == "running"
    assert engine.stop(cid, timeout=0)
    assert engine.table.load(cid).status == "exited"
    engine.remove(cid)
