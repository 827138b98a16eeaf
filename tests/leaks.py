"""What a test may leave behind on the host, and a check that it left nothing.

Used by the ``no_leaks`` fixture and by churn/crash tests: mounts, cgroup directories, network
namespaces, processes and file descriptors whose names mention vmvc, before and after.
"""

from __future__ import annotations

import glob
import os
import time


def _mounts() -> set[str]:
    with open("/proc/self/mountinfo") as f:
        return {" ".join(line.split()[3:5]) for line in f}


def _cgroups() -> set[str]:
    found = set()
    for base in glob.glob("/sys/fs/cgroup/*"):
        for dirpath, dirnames, _ in os.walk(base):
            found.update(os.path.join(dirpath, d) for d in dirnames if "vmvc" in d)
            if dirpath.count("/") > 6:
                dirnames[:] = []
    return found


def _netns() -> set[str]:
    names = set(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else set()
    return {n for n in names if "vmvc" in n}


def _children() -> set[int]:
    me = str(os.getpid())
    kids = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me and fields[0] != "Z":
            kids.add(int(pid))
    return kids


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def snapshot() -> dict:
    return {"mounts": _mounts(), "cgroups": _cgroups(), "netns": _netns(), "children": _children(),
            "fds": _fds()}


def diff(before: dict, after: dict) -> list[str]:
    problems = []
    for key in ("mounts", "cgroups", "netns", "children"):
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
        problems = diff(before, snapshot())
        if not problems or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not problems, "; ".join(problems)
