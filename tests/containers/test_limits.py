"""cgroup limits on the real kernel: OOM -> 137/OOMKilled, pids limit holds a fork bomb, CPU quota."""

from __future__ import annotations

import os
import time

from runtime.containers import Spec
from tests.containers.conftest import REAL

pytestmark = REAL


def test_memory_limit_oom_kills_with_137(run):
    r = run("sh", "-c", "head -c 200m /dev/zero | tail > /dev/null", memory=32 << 20)
    assert r.exit_code == 137
    assert r.oom_killed


def test_oom_killed_is_recorded(engine):
    cid = engine.create(Spec("busybox", ["sh", "-c", "head -c 200m /dev/zero | tail"], memory=32 << 20))
    engine.start(cid)
    assert engine.wait(cid) == 137
    st = engine.inspect(cid)["State"]
    assert st["OOMKilled"] is True and st["ExitCode"] == 137
    engine.remove(cid)


def test_under_the_limit_nothing_happens(run):
    r = run("sh", "-c", "head -c 8m /dev/zero | tail | wc -c", memory=64 << 20)
    assert (r.exit_code, r.oom_killed) == (0, False)


def test_pids_limit_holds_a_fork_bomb(run):
    # a subshell forks until it fails; the outer shell then counts processes with builtins only
    bomb = (
        "(i=0; while [ $i -lt 200 ]; do sleep 30 & i=$((i+1)); done) 2>/dev/null; "
        "set -- /proc/[0-9]*; echo $#"
    )
    r = run("sh", "-c", bomb, pids_limit=50)
    assert r.exit_code == 0
    assert 40 <= int(r.stdout) <= 50  # 200 were asked for
    assert run("true").exit_code == 0  # the host (and the engine) are fine


def test_cpu_quota_caps_usage(engine):
    cid = engine.create(Spec("busybox", ["sh", "-c", "while :; do :; done"], cpus=0.5))
    engine.start(cid)
    try:
        first = engine.stats(cid)
        t0 = time.monotonic()
        time.sleep(1.0)
        used = engine.stats(cid)["cpu_usage_ns"] - first["cpu_usage_ns"]
        wall = time.monotonic() - t0
        assert used / 1e9 / wall <= 0.65  # never more than half a CPU (plus one period of slack)
        assert _cpu_quota_us(engine.inspect(cid)["Vmvc"]["Cgroup"]) == 50000
    finally:
        engine.remove(cid, force=True)


def _cpu_quota_us(name: str) -> int:
    """The CPU quota the backend in use wrote: v1 ``cpu.cfs_quota_us`` or v2 ``cpu.max`` ("50000 100000")."""
    from runtime.cgroups import manager

    for d in manager().dirs(name):
        for file in ("cpu.cfs_quota_us", "cpu.max"):
            if os.path.exists(os.path.join(d, file)):
                with open(os.path.join(d, file)) as f:
                    return int(f.read().split()[0])
    raise AssertionError(f"no CPU quota file for {name} in {manager().dirs(name)}")


def test_stats_report_memory_and_pids(engine):
    cid = engine.create(Spec("busybox", ["sh", "-c", "sleep 60 & sleep 60"], memory=64 << 20, pids_limit=20))
    engine.start(cid)
    deadline = time.monotonic() + 10
    while (s := engine.stats(cid))["pids"] < 2 and time.monotonic() < deadline:  # the shell forks its sleep
        time.sleep(0.02)
    assert s["memory_limit"] == 64 << 20 and s["pids_limit"] == 20
    assert s["pids"] >= 2 and s["memory_usage"] > 0
    engine.kill(cid, "KILL")
    assert engine.wait(cid) == 137
    stopped = engine.stats(cid)  # stopped containers report zeros, not errors
    assert stopped["id"] == cid
    assert (stopped["pids"], stopped["memory_usage"], stopped["cpu_usage_ns"]) == (0, 0, 0)
    engine.remove(cid)
