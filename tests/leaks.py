"""What a test may leave behind on the host, and a check that it left nothing.

Used by the ``no_leaks`` fixture and by churn/crash tests. The check is scoped to this test run, so
other vmvc users on the same host (a lecturer's demo, another checkout's tests) do not count:

* mounts: the whole host mount table (containers' own mounts live in their private namespaces, so
  anything new here is a leak);
* cgroups named ``vmvc-<tag>-…`` whose tag belongs to a state root inside the run's temp dir (the
  engine names cgroups by a CRC of the root's real path), or to the default/``$VMVC_ROOT`` root;
* processes: direct children of the test process, and any process whose command line names the run's
  temp dir (a spawner, stem or container re-parented to init after its parent died);
* network namespaces named vmvc in ``/run/netns``; ``/tmp/vmvc*`` temp dirs; this process's fds.
"""

from __future__ import annotations

import glob
import os
import time
import zlib


def _mounts() -> set[str]:
    with open("/proc/self/mountinfo") as f:
        return {" ".join(line.split()[3:5]) for line in f}


def _root_tags(scope: str | None) -> set[str]:
    """The cgroup tags of every directory that could be a state root of this run."""
    roots = {"/var/lib/vmvc/containers"}
    if os.environ.get("VMVC_ROOT"):
        roots.add(os.path.join(os.environ["VMVC_ROOT"], "containers"))
    if scope and os.path.isdir(scope):
        for dirpath, dirnames, _ in os.walk(scope):
            if os.path.basename(dirpath) in ("layers", "blobs", "rootfs", "upper", "merged"):
                dirnames[:] = []  # image and container contents: never state roots
                continue
            roots.add(dirpath)
    return {f"vmvc-{zlib.crc32(os.path.realpath(r).encode()):08x}-" for r in roots}


def _cgroups(scope: str | None) -> set[str]:
    tags = _root_tags(scope)
    found = set()
    for base in glob.glob("/sys/fs/cgroup/*"):
        for dirpath, dirnames, _ in os.walk(base):
            found.update(os.path.join(dirpath, d) for d in dirnames
                         if d.startswith("vmvc-") and (scope is None or d[:14] in tags))
            if dirpath.count("/") > 6:
                dirnames[:] = []
    return found


def _netns() -> set[str]:
    names = set(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else set()
    return {n for n in names if "vmvc" in n}


def _processes(scope: str | None) -> set[int]:
    me = str(os.getpid())
    found = set()
    needle = scope.encode() if scope else None
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or pid == me:
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if fields[0] == "Z":
                continue
            if fields[1] == me:
                found.add(int(pid))
            elif needle:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if needle in f.read():
                        found.add(int(pid))
        except OSError:
            continue
    return found


def _tmp() -> set[str]:
    return set(glob.glob("/tmp/vmvc*"))


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def snapshot(scope: str | None = None) -> dict:
    """What the host has now; ``scope`` is the test run's temp dir (see the module docstring)."""
    return {"scope": scope, "mounts": _mounts(), "cgroups": _cgroups(scope), "netns": _netns(),
            "children": _processes(scope), "tmp": _tmp(), "fds": _fds()}


def diff(before: dict, after: dict) -> list[str]:
    problems = []
    for key in ("mounts", "cgroups", "netns", "children", "tmp"):
        extra = after[key] - before[key]
        if extra:
            problems.append(f"{key} left behind: {sorted(map(str, extra))[:5]}")
    if after["fds"] > before["fds"]:
        problems.append(f"fds grew from {before['fds']} to {after['fds']}")
    return problems


def assert_no_leaks(before: dict, settle: float = 2.0) -> None:
    """Fail if the host has more than ``before``; waits briefly for asynchronous teardown."""
    deadline = time.monotonic() + settle
    while True:
        problems = diff(before, snapshot(before.get("scope")))
        if not problems or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not problems, "; ".join(problems)
