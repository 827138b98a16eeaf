"""cgroup limits on the real kernel: OOM -> 137/OOMKilled, pids limit holds a fork bomb, CPU quota."""

from __future__ import annotations

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
        cg = engine.inspect(cid)["Vmvc"]["Cgroup"]
        with open(f"/sys/fs/cgroup/cpu/{cg}/cpu.cfs_quota_us") as f:
            assert int(f.read()) == 50000
    finally:
        engine.remove(cid, force=True)


def test_stats_report_memory_and_pids(engine):
    cid = engine.create(Spec("busybox", ["sh", "-c", "sleep 60 & sleep 60"], memory=64 << 20, pids_limit=20))
    engine.start(cid)
    time.sleep(0.2)
    s = engine.stats(cid)
    assert s["memory_limit"] == 64 << 20 and s["pids_limit"] == 20
    assert s["pids"] >= 2 and s["memory_usage"] > 0
    engine.remove(cid, force=True)
    assert engine.stats  # stopped containers report zeros, not errors
