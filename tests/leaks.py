"""What a test may leave behind on the host, and a check that it left nothing — of what this run made.

Used by the ``no_leaks`` fixture and by churn/crash tests. A shared host has other vmvc users (a
lecturer's demo on ``/var/lib/vmvc``, another checkout's tests and spawners, anything mounted under
``/tmp``), so every check is scoped to what *this* run owns, described by a :class:`Scope`:

* mounts whose mount point lies under one of the run's directories (its pytest base temp, which also
  holds the run's ``$TMPDIR`` and every test's ``$VMVC_ROOT``);
* cgroups named ``vmvc-<tag>-…`` whose tag is the CRC the engine derives from a state root that lies in
  the run's directories (``Containers.cgroup_prefix``). The walk starts at the cgroupfs root itself, so a
  pure v2 host's top-level ``/sys/fs/cgroup/vmvc-…`` counts, as do v1's ``/sys/fs/cgroup/<ctrl>/vmvc-…``;
* processes that descend from the test process, or whose command line names one of the run's
  directories (a spawner re-parented to init names its state root), and everything below those;
* ``vmvc*`` entries in the run's temp dir (conftest points ``$TMPDIR`` there for the whole run);
* this process's open fds.

psutil reads the mount table and the process list; nothing here parses ``/proc`` by hand.
"""

from __future__ import annotations

import glob
import os
import tempfile
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field

import psutil

# Directories inside a run that hold image or container contents: never state roots, and large.
NOT_STATE_ROOTS = frozenset({"layers", "blobs", "rootfs", "upper", "merged"})
# The engine makes its cgroups at the top of a hierarchy: /sys/fs/cgroup/vmvc-… on a pure v2 host,
# /sys/fs/cgroup/<v1 controller or unified>/vmvc-… on v1 and hybrid hosts.
CGROUP_PATTERNS = ("vmvc-*", "*/vmvc-*")


@dataclass(frozen=True)
class Scope:
    """What this run owns: its directories, its temp dir, its test process, and where cgroupfs is."""

    paths: tuple[str, ...]
    tmp: str = field(default_factory=tempfile.gettempdir)
    pid: int = field(default_factory=os.getpid)
    cgroupfs: str = "/sys/fs/cgroup"

    @classmethod
    def of(cls, *paths: str, **kw) -> Scope:
        return cls(tuple(os.path.realpath(p) for p in paths), **kw)

    def owns(self, path: str) -> bool:
        """``path`` is one of the run's directories or lies below one (path components, not prefixes)."""
        return any(path == p or path.startswith(p.rstrip("/") + "/") for p in self.paths)

    def named_in(self, text: str) -> bool:
        """``text`` (a command-line argument, maybe ``--flag=/path``) mentions one of the run's paths."""
        for p in self.paths:
            i = text.find(p)
            while i >= 0:
                end = i + len(p)
                if end == len(text) or text[end] in "/:,= ":
                    return True
                i = text.find(p, i + 1)
        return False


def mounts(scope: Scope) -> Counter:
    """Mounts under the run's directories (a multiset: one path can carry stacked mounts)."""
    return Counter(
        f"{p.mountpoint} {p.fstype}" for p in psutil.disk_partitions(all=True) if scope.owns(p.mountpoint)
    )


def cgroup_tag(root: str) -> str:
    """The prefix the engine gives the cgroups of a containers state root (``Containers.cgroup_prefix``)."""
    return f"vmvc-{zlib.crc32(os.path.realpath(root).encode()):08x}-"


def state_root_tags(scope: Scope) -> set[str]:
    """Tags of every directory in the run that could be a state root (a test may use any directory)."""
    tags = set()
    for top in scope.paths:
        for dirpath, dirnames, _ in os.walk(top):
            tags.add(cgroup_tag(dirpath))
            dirnames[:] = [d for d in dirnames if d not in NOT_STATE_ROOTS and len(d) != 64]
    return tags


_TAGS: dict[tuple[str, ...], tuple[set[str], set[str]]] = {}  # scope paths -> (ours, others')


def cgroups(scope: Scope) -> set[str]:
    """cgroup directories named by one of the run's state roots, the top level of cgroupfs included."""
    found = [p for pattern in CGROUP_PATTERNS for p in glob.glob(os.path.join(scope.cgroupfs, pattern))
             if os.path.isdir(p)]
    ours, others = _TAGS.setdefault(scope.paths, (set(), set()))
    unknown = {os.path.basename(p)[:14] for p in found} - ours - others
    if unknown:  # walk the run's directories only when a cgroup of a root not seen before appears
        tags = state_root_tags(scope)
        ours.update(unknown & tags)
        others.update(unknown - tags)  # its root exists now and is not ours: it never will be
    return {p for p in found if os.path.basename(p)[:14] in ours}


def _describe(p: psutil.Process) -> str:
    try:
        return f"{p.pid} {' '.join(p.cmdline())[:80]}"
    except psutil.Error:
        return str(p.pid)


def processes(scope: Scope) -> dict[int, str]:
    """Live processes of this run: descendants of the test process, holders of the run's paths, and theirs."""
    roots = []
    try:
        roots += psutil.Process(scope.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        pass
    for p in psutil.process_iter(["cmdline"]):
        if p.pid != scope.pid and any(scope.named_in(a) for a in p.info["cmdline"] or ()):
            roots.append(p)
    found = {}
    for p in roots:
        try:
            family = [p, *p.children(recursive=True)]
        except psutil.Error:
            family = [p]
        for q in family:
            try:
                if q.pid != scope.pid and q.status() != psutil.STATUS_ZOMBIE:
                    found[q.pid] = _describe(q)
            except psutil.Error:
                continue
    return found


def spawner_roots(scope: Scope) -> set[str]:
    """State roots of the run whose spawner or keeper is up (the root follows the module or script in
    the command line). A keeper without a spawner keeps containers that outlived their spawner."""
    roots = set()
    for p in psutil.process_iter(["cmdline"]):
        args = p.info["cmdline"] or []
        for i, arg in enumerate(args[:-1]):
            if arg == "runtime.containers.spawner" or arg.endswith("/runtime/containers/keeper.py"):
                if scope.owns(args[i + 1]):
                    roots.add(args[i + 1])
    return roots


def temp_dirs(scope: Scope) -> set[str]:
    return set(glob.glob(os.path.join(scope.tmp, "vmvc*")))


def fds() -> int:
    return psutil.Process().num_fds()


def snapshot(scope: Scope) -> dict:
    """What the run has on the host now."""
    return {"scope": scope, "mounts": mounts(scope), "cgroups": cgroups(scope),
            "processes": processes(scope), "tmp": temp_dirs(scope), "fds": fds()}


def diff(before: dict, after: dict) -> list[str]:
    problems = []
    for key in ("mounts", "cgroups", "tmp"):
        extra = after[key] - before[key]
        if extra:
            problems.append(f"{key} left behind: {sorted(extra)[:5]}")
    extra = sorted(set(after["processes"]) - set(before["processes"]))
    if extra:
        problems.append(f"processes left behind: {[after['processes'][p] for p in extra][:5]}")
    if after["fds"] > before["fds"]:
        problems.append(f"fds grew from {before['fds']} to {after['fds']}")
    return problems


def assert_no_leaks(before: dict, settle: float = 2.0) -> None:
    """Fail if the run has more than ``before``; waits briefly for asynchronous teardown."""
    deadline = time.monotonic() + settle
    while True:
        problems = diff(before, snapshot(before["scope"]))
        if not problems or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not problems, "; ".join(problems)
