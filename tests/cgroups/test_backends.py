"""The v1 and v2 backends' logic against a fake cgroupfs in a temp dir (no root needed)."""

from __future__ import annotations

import os

import pytest

from runtime.cgroups import Limits
from runtime.cgroups.v1 import V1
from runtime.cgroups.v2 import V2


def _files(d, **files):
    os.makedirs(d, exist_ok=True)
    for name, text in files.items():
        with open(os.path.join(d, name.replace("__", ".")), "w") as f:
            f.write(text)


@pytest.fixture
def v2root(tmp_path):
    root = tmp_path / "unified"
    _files(
        root,
        cgroup__controllers="cpuset cpu io memory pids\n",
        cgroup__subtree_control="cpuset\n",
        cgroup__procs="",
    )
    return root


def test_v2_enables_controllers_once_and_writes_limits(v2root):
    cg = V2(str(v2root))
    cg.create("vmvc-x")
    assert (v2root / "cgroup.subtree_control").read_text() == "+memory +cpu +pids"
    cg.set_limits("vmvc-x", Limits(memory=64 << 20, cpus=0.5, pids=50))
    d = v2root / "vmvc-x"
    assert (d / "memory.max").read_text() == str(64 << 20)
    assert (d / "cpu.max").read_text() == "50000 100000"
    assert (d / "pids.max").read_text() == "50"
    assert cg.procs_files("vmvc-x") == [str(d / "cgroup.procs")]
    assert cg.names("vmvc-") == ["vmvc-x"]


def test_v2_no_limits_writes_nothing(v2root):
    cg = V2(str(v2root))
    cg.create("vmvc-y")
    cg.set_limits("vmvc-y", Limits())
    assert os.listdir(v2root / "vmvc-y") == []


def test_v2_oom_and_stats_and_kill(v2root):
    cg = V2(str(v2root))
    cg.create("vmvc-z")
    d = v2root / "vmvc-z"
    _files(
        d,
        memory__events="low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\n",
        memory__current="4096\n",
        memory__max="max\n",
        cpu__stat="usage_usec 2500\nuser_usec 2000\n",
        pids__current="3\n",
        pids__max="max\n",
        cgroup__procs="",
        cgroup__kill="",
    )
    assert cg.oom_killed("vmvc-z") is False
    (d / "memory.events").write_text("oom 1\noom_kill 1\n")
    assert cg.oom_killed("vmvc-z") is True
    s = cg.stats("vmvc-z")
    assert (s.memory_usage, s.memory_limit, s.cpu_usage_ns, s.pids, s.pids_limit) == (
        4096,
        None,
        2_500_000,
        3,
        None,
    )
    cg.kill("vmvc-z")
    assert (d / "cgroup.kill").read_text() == "1"


def test_v2_remove_of_a_missing_cgroup_is_fine(v2root):
    V2(str(v2root)).remove("vmvc-never")


@pytest.fixture
def v1roots(tmp_path):
    mounts = {c: str(tmp_path / c) for c in ("memory", "cpu", "cpuacct", "pids")}
    for m in mounts.values():
        _files(m, cgroup__procs="")
    return mounts


def test_v1_one_dir_per_hierarchy_and_limits(v1roots):
    cg = V1(v1roots)
    cg.create("vmvc-a")
    assert sorted(cg.dirs("vmvc-a")) == sorted(os.path.join(m, "vmvc-a") for m in v1roots.values())
    mem = os.path.join(v1roots["memory"], "vmvc-a")
    _files(mem, memory__memsw__limit_in_bytes="")
    cg.set_limits("vmvc-a", Limits(memory=32 << 20, cpus=1.5, pids=10))
    assert open(f"{mem}/memory.limit_in_bytes").read() == str(32 << 20)
    assert open(f"{mem}/memory.memsw.limit_in_bytes").read() == str(32 << 20)
    cpu = os.path.join(v1roots["cpu"], "vmvc-a")
    assert open(f"{cpu}/cpu.cfs_quota_us").read() == "150000"
    assert open(f"{cpu}/cpu.cfs_period_us").read() == "100000"
    assert open(os.path.join(v1roots["pids"], "vmvc-a", "pids.max")).read() == "10"


def test_v1_oom_from_oom_control_or_failcnt(v1roots):
    cg = V1(v1roots)
    cg.create("vmvc-b")
    mem = os.path.join(v1roots["memory"], "vmvc-b")
    _files(mem, memory__oom_control="oom_kill_disable 0\nunder_oom 0\noom_kill 0\n", memory__failcnt="5\n")
    assert cg.oom_killed("vmvc-b") is False  # the kernel's oom_kill counter wins when present
    _files(mem, memory__oom_control="oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    assert cg.oom_killed("vmvc-b") is True
    _files(mem, memory__oom_control="oom_kill_disable 0\nunder_oom 0\n")  # older kernels
    assert cg.oom_killed("vmvc-b") is True


def test_v1_stats(v1roots):
    cg = V1(v1roots)
    cg.create("vmvc-c")
    _files(
        os.path.join(v1roots["memory"], "vmvc-c"),
        memory__usage_in_bytes="8192\n",
        memory__limit_in_bytes="9223372036854771712\n",
    )
    _files(os.path.join(v1roots["cpuacct"], "vmvc-c"), cpuacct__usage="123456\n")
    _files(os.path.join(v1roots["pids"], "vmvc-c"), pids__current="2\n", pids__max="50\n")
    s = cg.stats("vmvc-c")
    assert (s.memory_usage, s.memory_limit, s.cpu_usage_ns, s.pids, s.pids_limit) == (
        8192,
        None,
        123456,
        2,
        50,
    )


def test_manager_picks_the_doctors_backend(tmp_path):
    from runtime.cgroups import manager

    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "cgroups").write_text("#subsys_name\thierarchy\tnum_cgroups\tenabled\nmemory\t4\t1\t1\n")
    (proc / "mounts").write_text(f"cgroup2 {tmp_path}/sys/fs/cgroup cgroup2 rw 0 0\n")
    _files(tmp_path / "sys/fs/cgroup", cgroup__controllers="cpu memory pids\n")
    m = manager(str(tmp_path))
    assert m.backend == "v2"
