"""Every container in its own cgroup in every mounted hierarchy (fake cgroupfs in a temp dir), and the
read-only ``/sys/fs/cgroup`` a container sees (the mount plan)."""

from __future__ import annotations

import os

from runtime.cgroups.v1 import V1
from runtime.containers import init
from runtime.containers.mounts import Mkdir, Mount
from runtime.linux.syscalls import MS_BIND, MS_RDONLY, MS_REMOUNT


def _hybrid(tmp_path):
    """This project's host: v1 controllers one per hierarchy, name=systemd, a controller-less v2 mount."""
    root = tmp_path / "sys/fs/cgroup"
    v1 = {str(root / c): [c] for c in ("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio",
                                        "pids")}
    v1[str(root / "systemd")] = []
    for d in [*v1, str(root / "unified")]:
        os.makedirs(d)
        open(os.path.join(d, "cgroup.procs"), "w").close()
    (root / "cpuset/cpuset.cpus").write_text("0-1\n")
    (root / "cpuset/cpuset.mems").write_text("0\n")
    return root, {"v1": v1, "v2_path": str(root / "unified")}


def test_a_container_gets_a_directory_in_every_hierarchy(tmp_path):
    root, layout = _hybrid(tmp_path)
    cg = V1.from_layout(layout)
    cg.create("vmvc-t-1")
    names = sorted(os.path.basename(os.path.dirname(d)) for d in cg.dirs("vmvc-t-1"))
    assert names == ["blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "memory", "pids",
                     "systemd", "unified"]
    assert all(os.path.isdir(d) for d in cg.dirs("vmvc-t-1"))
    assert len(cg.procs_files("vmvc-t-1")) == 10
    assert cg.names("vmvc-t-") == ["vmvc-t-1"]


def test_a_new_cpuset_gets_its_parents_cpus_and_memory_nodes(tmp_path):
    root, layout = _hybrid(tmp_path)
    V1.from_layout(layout).create("vmvc-t-2")
    assert (root / "cpuset/vmvc-t-2/cpuset.cpus").read_text() == "0-1"
    assert (root / "cpuset/vmvc-t-2/cpuset.mems").read_text() == "0"


def test_removal_leaves_no_directory_in_any_hierarchy(tmp_path):
    root, layout = _hybrid(tmp_path)
    cg = V1.from_layout(layout)
    cg.create("vmvc-t-3")
    for d in cg.dirs("vmvc-t-3"):  # the fake has no kernel to remove the control files
        for f in os.listdir(d):
            os.unlink(os.path.join(d, f))
    cg.remove("vmvc-t-3")
    assert not cg.exists("vmvc-t-3")
    assert not [p for p, dirs, _ in os.walk(root) if "vmvc-t-3" in dirs]


def test_privileged_opens_the_devices_cgroup(tmp_path):
    root, layout = _hybrid(tmp_path)
    cg = V1.from_layout(layout)
    cg.create("vmvc-t-4")
    assert (root / "devices/vmvc-t-4/devices.deny").read_text() == "a"
    cg.allow_all_devices("vmvc-t-4")
    assert (root / "devices/vmvc-t-4/devices.allow").read_text() == "a"


HYBRID = [("/sys/fs/cgroup/cpu", "cgroup", "cpu"), ("/sys/fs/cgroup/systemd", "cgroup", "name=systemd"),
          ("/sys/fs/cgroup/unified", "cgroup2", None)]


def test_sys_fs_cgroup_inside_is_a_read_only_tmpfs_of_read_only_hierarchies():
    steps = init.cgroupfs_plan("/s", HYBRID)
    assert (steps[0].source, steps[0].target, steps[0].fstype) == ("tmpfs", "/s/sys/fs/cgroup", "tmpfs")
    assert set(map(type, steps)) == {Mount, Mkdir}
    mounts = [(s.target, s.fstype, s.data) for s in steps[1:] if type(s) is Mount and s.source]
    assert mounts == [("/s/sys/fs/cgroup/cpu", "cgroup", "cpu"),
                      ("/s/sys/fs/cgroup/systemd", "cgroup", "name=systemd"),
                      ("/s/sys/fs/cgroup/unified", "cgroup2", None)]
    assert all(s.flags & MS_RDONLY for s in steps[1:] if type(s) is Mount)
    assert steps[-1] == Mount(None, "/s/sys/fs/cgroup", None, steps[-1].flags, None)
    assert steps[-1].flags & (MS_BIND | MS_REMOUNT | MS_RDONLY) == MS_BIND | MS_REMOUNT | MS_RDONLY


def test_pure_v2_mounts_the_one_hierarchy_read_only_and_privileged_writable():
    (step,) = init.cgroupfs_plan("/s", [("/sys/fs/cgroup", "cgroup2", None)])
    assert (step.source, step.target, step.fstype) == ("cgroup2", "/s/sys/fs/cgroup", "cgroup2")
    assert step.flags & MS_RDONLY
    (step,) = init.cgroupfs_plan("/s", [("/sys/fs/cgroup", "cgroup2", None)], readonly=False)
    assert type(step) is Mount and not step.flags & MS_RDONLY


def test_the_host_mount_table_is_read_with_hierarchy_options_only(tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text(
        "cgroup /sys/fs/cgroup/cpu cgroup rw,nosuid,nodev,noexec,relatime,cpu 0 0\n"
        "cgroup /sys/fs/cgroup/systemd cgroup rw,relatime,xattr,name=systemd 0 0\n"
        "cgroup2 /sys/fs/cgroup/unified cgroup2 rw,nsdelegate 0 0\n"
        "cgroup /elsewhere cgroup rw,memory 0 0\n"
        "proc /proc proc rw 0 0\n"
    )
    found = init.host_cgroup_mounts(str(mounts))
    assert ("/sys/fs/cgroup/cpu", "cgroup", "cpu") in found
    assert ("/sys/fs/cgroup/systemd", "cgroup", "name=systemd") in found
    assert ("/sys/fs/cgroup/unified", "cgroup2", None) in found
    assert all(not m[0].startswith("/elsewhere") for m in found)


def test_v2_places_the_container_in_v1_hierarchies_mounted_beside_it(tmp_path):
    """A v2 host with a legacy named (or any) v1 hierarchy: the container is placed there too."""
    from runtime.cgroups.v2 import V2

    unified = tmp_path / "cgroup"
    os.makedirs(unified)
    (unified / "cgroup.controllers").write_text("cpu memory pids\n")
    (unified / "cgroup.subtree_control").write_text("")
    legacy = {str(tmp_path / "systemd"): [], str(tmp_path / "cpuset"): ["cpuset"]}
    for d in legacy:
        os.makedirs(d)
    (tmp_path / "cpuset/cpuset.cpus").write_text("0-3\n")
    (tmp_path / "cpuset/cpuset.mems").write_text("0\n")
    cg = V2(str(unified), others=legacy)
    cg.create("vmvc-t-5")
    assert cg.dirs("vmvc-t-5")[0] == str(unified / "vmvc-t-5")  # limits and stats live there
    assert all(os.path.isdir(d) for d in cg.dirs("vmvc-t-5")) and len(cg.dirs("vmvc-t-5")) == 3
    assert (tmp_path / "cpuset/vmvc-t-5/cpuset.cpus").read_text() == "0-3"
    assert cg.procs_files("vmvc-t-5")[0] == str(unified / "vmvc-t-5/cgroup.procs")
    assert cg.names("vmvc-t-") == ["vmvc-t-5"]
    for d in cg.dirs("vmvc-t-5"):
        for f in os.listdir(d):
            os.unlink(os.path.join(d, f))
    cg.remove("vmvc-t-5")
    assert not cg.exists("vmvc-t-5") and cg.names("vmvc-") == []


def test_the_manager_hands_a_v2_host_its_v1_neighbours(tmp_path):
    from runtime.cgroups import manager

    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "cgroups").write_text("#subsys_name\thierarchy\tnum_cgroups\tenabled\nmemory\t0\t1\t1\n")
    (proc / "mounts").write_text(f"cgroup2 {tmp_path}/sys/fs/cgroup cgroup2 rw 0 0\n"
                                 f"cgroup {tmp_path}/sys/fs/cgroup/systemd cgroup rw,name=systemd 0 0\n")
    os.makedirs(tmp_path / "sys/fs/cgroup/systemd")
    (tmp_path / "sys/fs/cgroup/cgroup.controllers").write_text("cpu memory pids\n")
    m = manager(str(tmp_path))
    assert m.backend == "v2" and list(m.others) == [f"{tmp_path}/sys/fs/cgroup/systemd"]
