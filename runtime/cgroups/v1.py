"""cgroup v1: one directory per controller hierarchy (memory, cpu, cpuacct, pids, devices).

Used on hybrid hosts like this project's, where the v2 mount carries no controllers. A process
joins by writing to ``cgroup.procs`` in each hierarchy; the OOM killer's work shows in
``memory.oom_control`` (``oom_kill``) and ``memory.failcnt``. The ``devices`` directory gets
Docker's allow-list (:mod:`runtime.cgroups.devices`) when it is created, before anyone joins.
"""

from __future__ import annotations

import os

from runtime.cgroups import devices
from runtime.cgroups.base import Limits, Manager, Stats, keyed, kill_listed, read, read_int, write

CONTROLLERS = ("memory", "cpu", "cpuacct", "pids", "devices")
UNLIMITED = 1 << 62  # v1 reports "no limit" as a huge number


class V1(Manager):
    backend = "v1"

    def __init__(self, hierarchies: dict[str, str]) -> None:
        """``hierarchies`` maps controller -> mountpoint (``{"memory": "/sys/fs/cgroup/memory"}``)."""
        self.mounts = {c: hierarchies[c] for c in CONTROLLERS if c in hierarchies}
        self._roots = list(dict.fromkeys(self.mounts.values()))  # a co-mounted cpu,cpuacct once
        self.devices_enforced = "devices" in self.mounts

    @classmethod
    def from_layout(cls, info: dict) -> V1:
        found = {}
        for mountpoint, ctrls in info["v1"].items():
            for c in ctrls:
                found.setdefault(c, mountpoint)
        return cls(found)

    def _dir(self, controller: str, name: str) -> str | None:
        root = self.mounts.get(controller)
        return os.path.join(root, name) if root else None

    def dirs(self, name: str) -> list[str]:
        return [os.path.join(root, name) for root in self._roots]

    def create(self, name: str) -> None:
        for d in self.dirs(name):
            os.makedirs(d, exist_ok=True)
        dev = self._dir("devices", name)
        if dev:
            devices.restrict(dev)

    def names(self, prefix: str) -> list[str]:
        found = set()
        for root in self._roots:
            try:
                found.update(n for n in os.listdir(root) if n.startswith(prefix))
            except OSError:
                pass
        return sorted(found)

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
