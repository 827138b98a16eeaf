"""cgroup v1: one directory per mounted hierarchy, limits through memory, cpu, cpuacct and pids.

Used on hybrid hosts like this project's, where the v2 mount carries no controllers. A container
gets its own directory in *every* mounted hierarchy, not only those that carry a limit: cpuset,
freezer, blkio, ``name=systemd`` and the (controller-less) v2 mount beside them too. Why: the stem
unshares its cgroup namespace after joining, so the namespace is rooted at the container's own cgroup
in each hierarchy it was placed in -- and only there. A hierarchy it was left out of would be rooted
at the host's top (``/``), and a process that got to mount it (``unshare -U`` with seccomp off, say)
would see and write every host cgroup: raise its own limits, ``cgroup.kill`` host processes.

A process joins by writing to ``cgroup.procs`` in each hierarchy; the OOM killer's work shows in
``memory.oom_control`` (``oom_kill``) and ``memory.failcnt``. The ``devices`` directory gets
Docker's allow-list (:mod:`runtime.cgroups.devices`) when it is created, before anyone joins; the
``cpuset`` directory gets its parent's CPUs and memory nodes (a new v1 cpuset is empty, and nobody
can join an empty one).
"""

from __future__ import annotations

import os

from runtime.cgroups import devices
from runtime.cgroups.base import Limits, Manager, Stats, keyed, kill_listed, names_in, read, read_int, write

CONTROLLERS = ("memory", "cpu", "cpuacct", "pids", "devices")  # the ones the engine writes to
UNLIMITED = 1 << 62  # v1 reports "no limit" as a huge number


class V1(Manager):
    backend = "v1"

    def __init__(self, hierarchies: dict[str, str], others: list[str] | tuple[str, ...] = ()) -> None:
        """``hierarchies`` maps controller -> mountpoint (``{"memory": "/sys/fs/cgroup/memory"}``);
        ``others`` are the mountpoints of the remaining hierarchies (``name=systemd``, the v2 mount of
        a hybrid host...), where a container only gets its directory."""
        self.mounts = {c: hierarchies[c] for c in CONTROLLERS if c in hierarchies}
        roots = [*self.mounts.values(), *hierarchies.values(), *others]
        self._roots = list(dict.fromkeys(roots))  # a co-mounted cpu,cpuacct once
        self.cpuset = hierarchies.get("cpuset")
        self.devices_enforced = "devices" in self.mounts

    @classmethod
    def from_layout(cls, info: dict) -> V1:
        """Every v1 hierarchy of the doctor's layout, and the v2 mount beside them (hybrid)."""
        found = {}
        for mountpoint, ctrls in info["v1"].items():
            for c in ctrls:
                found.setdefault(c, mountpoint)
        others = [m for m, ctrls in info["v1"].items() if not ctrls]
        if info.get("v2_path"):
            others.append(info["v2_path"])
        return cls(found, others)

    def _dir(self, controller: str, name: str) -> str | None:
        root = self.mounts.get(controller)
        return os.path.join(root, name) if root else None

    def dirs(self, name: str) -> list[str]:
        return [os.path.join(root, name) for root in self._roots]

    def create(self, name: str) -> None:
        for d in self.dirs(name):
            os.makedirs(d, exist_ok=True)
        if self.cpuset:
            inherit_cpuset(self.cpuset, os.path.join(self.cpuset, name))
        dev = self._dir("devices", name)
        if dev:
            devices.restrict(dev)

    def allow_all_devices(self, name: str) -> None:
        dev = self._dir("devices", name)
        if dev:
            write(os.path.join(dev, "devices.allow"), "a")

    def names(self, prefix: str) -> list[str]:
        return names_in(self._roots, prefix)

    def set_limits(self, name: str, limits: Limits) -> None:
        mem = self._dir("memory", name)
        if limits.memory and mem:
            write(f"{mem}/memory.limit_in_bytes", str(limits.memory))
            if os.path.exists(f"{mem}/memory.memsw.limit_in_bytes"):  # no swap past the limit
                write(f"{mem}/memory.memsw.limit_in_bytes", str(limits.memory))
        cpu = self._dir("cpu", name)
        if limits.cpus and cpu:
            write(f"{cpu}/cpu.cfs_period_us", "100000")
            write(f"{cpu}/cpu.cfs_quota_us", str(limits.cpu_quota_us()))
        pids = self._dir("pids", name)
        if limits.pids and pids:
            write(f"{pids}/pids.max", str(limits.pids))

    def kill(self, name: str) -> None:
        d = self._dir("pids", name) or self.dirs(name)[0]
        kill_listed(f"{d}/cgroup.procs")

    def oom_killed(self, name: str) -> bool:
        mem = self._dir("memory", name)
        if not mem:
            return False
        control = keyed(read(f"{mem}/memory.oom_control"))
        if "oom_kill" in control:
            return control["oom_kill"] > 0
        return control.get("under_oom", 0) > 0 or read_int(f"{mem}/memory.failcnt") > 0

    def stats(self, name: str) -> Stats:
        mem = self._dir("memory", name) or ""
        acct = self._dir("cpuacct", name) or ""
        pids = self._dir("pids", name) or ""
        limit = read_int(f"{mem}/memory.limit_in_bytes", UNLIMITED)
        plimit = read(f"{pids}/pids.max").strip()
        return Stats(
            memory_usage=read_int(f"{mem}/memory.usage_in_bytes"),
            memory_limit=None if limit >= UNLIMITED else limit,
            cpu_usage_ns=read_int(f"{acct}/cpuacct.usage"),
            pids=read_int(f"{pids}/pids.current"),
            pids_limit=int(plimit) if plimit.isdigit() else None,
        )


def inherit_cpuset(parent: str, child: str) -> None:
    """Copy ``cpus`` and ``mems`` from the parent cpuset (``cpuset.``-prefixed or not: ``noprefix``)."""
    for key in ("cpus", "mems"):
        for name in (f"cpuset.{key}", key):
            src = os.path.join(parent, name)
            if os.path.exists(src):
                if not read(os.path.join(child, name)).strip():
                    write(os.path.join(child, name), read(src).strip() or "\n")
                break
