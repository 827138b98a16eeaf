"""What every cgroup backend offers the engine: create, join, limit, measure, kill, remove.

A container's cgroup is addressed by a plain name (``vmvc-…``); the backend decides where that
lives (one directory per v1 hierarchy, or one directory in the v2 tree). Backends read and write
only files below their root(s), so tests point them at a fake cgroupfs in a temp dir.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

CPU_PERIOD_US = 100_000


@dataclass(frozen=True)
class Limits:
    """Resource limits of one container; ``None`` means unlimited."""

    memory: int | None = None  # bytes
    cpus: float | None = None  # CPUs worth of time per period (``--cpus 0.5``)
    pids: int | None = None

    def cpu_quota_us(self) -> int | None:
        return None if not self.cpus else max(1000, int(self.cpus * CPU_PERIOD_US))


@dataclass(frozen=True)
class Stats:
    memory_usage: int
    memory_limit: int | None
    cpu_usage_ns: int
    pids: int
    pids_limit: int | None


def read(path: str, default: str = "") -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return default


def write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def read_int(path: str, default: int = 0) -> int:
    text = read(path).strip()
    if not text or text == "max":
        return default
    return int(text.split()[0])


def keyed(text: str) -> dict[str, int]:
    """``memory.events``/``cpu.stat``/``memory.oom_control`` style ``key value`` lines."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            out[parts[0]] = int(parts[1])
    return out


def rmdir_patiently(path: str, seconds: float = 2.0) -> None:
    """rmdir a cgroup directory, waiting while its last processes finish exiting (EBUSY)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as e:
            if e.errno != errno.EBUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def names_in(roots, prefix: str) -> list[str]:
    """Cgroup directories named ``prefix…`` directly under any of ``roots`` (recovery after a crash)."""
    found = set()
    for root in roots:
        try:
            names = os.listdir(root)
        except OSError:
            continue
        found.update(n for n in names if n.startswith(prefix) and os.path.isdir(os.path.join(root, n)))
    return sorted(found)


def kill_listed(procs_file: str, seconds: float = 2.0) -> None:
    """SIGKILL every process in ``procs_file`` until it stays empty (v1 has no cgroup.kill)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pids = [int(p) for p in read(procs_file).split()]
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.005)


class Manager(ABC):
    """One cgroup backend. ``name`` is the container's cgroup name, the same in every backend."""

    backend: str = ""
    devices_enforced: bool = False
    """Whether the kernel checks device-node access for this cgroup (v1 ``devices``); if not, the
    container must get ``nodev`` mounts and no CAP_MKNOD (see :mod:`runtime.cgroups.devices`)."""

    @abstractmethod
    def create(self, name: str) -> None: ...

    @abstractmethod
    def dirs(self, name: str) -> list[str]:
        """Every directory that makes up this cgroup (one per v1 hierarchy, one on v2)."""

    def procs_files(self, name: str) -> list[str]:
        """Files a process writes ``0`` into to join the cgroup (all of them, in order)."""
        return [os.path.join(d, "cgroup.procs") for d in self.dirs(name)]

    def join(self, name: str, pid: int = 0) -> None:
        for path in self.procs_files(name):
            write(path, str(pid))

    def exists(self, name: str) -> bool:
        return any(os.path.isdir(d) for d in self.dirs(name))

    def pids(self, name: str) -> list[int]:
        return sorted(
            {int(p) for d in self.dirs(name) for p in read(os.path.join(d, "cgroup.procs")).split()}
        )

    def remove(self, name: str) -> None:
        """Kill what is left inside and remove the directories; a missing cgroup is fine."""
        if self.pids(name):
            self.kill(name)
        for d in self.dirs(name):
            rmdir_patiently(d)

    def allow_all_devices(self, name: str) -> None:
        """``--privileged``: every device node usable (only v1 has a devices controller to open up)."""
        return None

    @abstractmethod
    def names(self, prefix: str) -> list[str]:
        """Names of existing cgroups starting with ``prefix`` (for recovery after a crash)."""

    @abstractmethod
    def set_limits(self, name: str, limits: Limits) -> None: ...

    @abstractmethod
    def kill(self, name: str) -> None: ...

    @abstractmethod
    def oom_killed(self, name: str) -> bool:
        """Whether the kernel's OOM killer killed a process of this cgroup."""

    @abstractmethod
    def stats(self, name: str) -> Stats: ...
