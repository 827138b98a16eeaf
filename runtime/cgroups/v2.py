"""cgroup v2: one unified tree; controllers enabled through the parent's ``cgroup.subtree_control``.

Used on modern distros (pure v2). Limits are ``memory.max``, ``cpu.max`` (``quota period``) and
``pids.max``; ``memory.events`` counts ``oom_kill``; ``cgroup.kill`` kills everything inside at once.

Any v1 hierarchy mounted beside the unified one (a legacy ``name=systemd`` on some hosts) gets the
container's directory too, for the reason :mod:`runtime.cgroups.v1` gives: the cgroup namespace must be
rooted at the container's own cgroup in every hierarchy that can be mounted.
"""

from __future__ import annotations

import os

from runtime.cgroups import devices
from runtime.cgroups.base import (
    CPU_PERIOD_US,
    Limits,
    Manager,
    Stats,
    keyed,
    kill_listed,
    names_in,
    read,
    read_int,
    write,
)
from runtime.cgroups.v1 import inherit_cpuset

WANTED = ("memory", "cpu", "pids")


class V2(Manager):
    backend = "v2"

    def __init__(self, root: str, others: dict[str, list[str]] | None = None) -> None:
        """``others``: v1 mountpoints beside the v2 tree -> their controllers (placement only)."""
        self.root = root
        self.others = dict(others or {})
        self._enabled = False

    def dirs(self, name: str) -> list[str]:
        """The v2 directory first (limits, stats, kill use it), then one per other hierarchy."""
        return [os.path.join(self.root, name), *(os.path.join(o, name) for o in self.others)]

    def enable_controllers(self) -> list[str]:
        """Turn on the wanted controllers for children of ``root`` (what it offers, once)."""
        available = read(os.path.join(self.root, "cgroup.controllers")).split()
        enabled = read(os.path.join(self.root, "cgroup.subtree_control")).split()
        missing = [c for c in WANTED if c in available and c not in enabled]
        if missing:
            write(os.path.join(self.root, "cgroup.subtree_control"), " ".join(f"+{c}" for c in missing))
        self._enabled = True
        return enabled + missing

    def create(self, name: str) -> None:
        if not self._enabled:
            self.enable_controllers()
        for d in self.dirs(name):
            os.makedirs(d, exist_ok=True)
        for mountpoint, ctrls in self.others.items():
            if "cpuset" in ctrls:
                inherit_cpuset(mountpoint, os.path.join(mountpoint, name))
            if "devices" in ctrls:
                devices.restrict(os.path.join(mountpoint, name))

    def names(self, prefix: str) -> list[str]:
        return names_in((self.root, *self.others), prefix)

    def set_limits(self, name: str, limits: Limits) -> None:
        d = self.dirs(name)[0]
        if limits.memory:
            write(f"{d}/memory.max", str(limits.memory))
            if os.path.exists(f"{d}/memory.swap.max"):
                write(f"{d}/memory.swap.max", "0")
        if limits.cpus:
            write(f"{d}/cpu.max", f"{limits.cpu_quota_us()} {CPU_PERIOD_US}")
        if limits.pids:
            write(f"{d}/pids.max", str(limits.pids))

    def kill(self, name: str) -> None:
        d = self.dirs(name)[0]
        if os.path.exists(f"{d}/cgroup.kill"):
            write(f"{d}/cgroup.kill", "1")
        kill_listed(f"{d}/cgroup.procs")

    def oom_killed(self, name: str) -> bool:
        return keyed(read(f"{self.dirs(name)[0]}/memory.events")).get("oom_kill", 0) > 0

    def stats(self, name: str) -> Stats:
        d = self.dirs(name)[0]
        limit = read(f"{d}/memory.max").strip()
        plimit = read(f"{d}/pids.max").strip()
        return Stats(
            memory_usage=read_int(f"{d}/memory.current"),
            memory_limit=int(limit) if limit.isdigit() else None,
            cpu_usage_ns=keyed(read(f"{d}/cpu.stat")).get("usage_usec", 0) * 1000,
            pids=read_int(f"{d}/pids.current"),
            pids_limit=int(plimit) if plimit.isdigit() else None,
        )
