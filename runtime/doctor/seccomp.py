"""Seccomp: whether this kernel takes the engine's filter, tried in a throw-away child.

The engine gives every container Docker's default profile, compiled by :mod:`runtime.security.seccomp`.
The probe compiles it, forks, sets ``no_new_privs``, installs it and checks that it does what it
must: ``getpid`` still works, ``unshare(CLONE_NEWUSER)`` says EPERM. The child then exits, taking
the filter with it.
"""

from __future__ import annotations

import errno
import os
import time

from runtime.doctor.report import MISSING, READY, Check
from runtime.doctor.util import in_child, read

CLONE_NEWUSER = 0x10000000


def _filtered(sys_, prog) -> str | None:
    """In the probe child: install ``prog`` and see it work. None if it behaved, else what went wrong."""
    from runtime.linux.syscalls import PR_SET_NO_NEW_PRIVS

    sys_.prctl(PR_SET_NO_NEW_PRIVS, 1)
    sys_.seccomp(prog)
    os.getpid()
    try:
        sys_.unshare(CLONE_NEWUSER)
    except OSError as e:
        return None if e.errno == errno.EPERM else f"unshare gave {errno.errorcode.get(e.errno)}"
    return "unshare(CLONE_NEWUSER) was allowed under the filter"


def _try(sys_) -> str | None:
    """None if the filter loaded and behaved; otherwise what went wrong. The filter is compiled
    before the fork, so the child only installs it, and it dies with the child."""
    from runtime.security.seccomp import default_filter

    return in_child(_filtered, sys_, default_filter())


def check(root: str, active: bool, sys_=None) -> Check:
    status = read(root, "proc/self/status")
    actions = read(root, "proc/sys/kernel/seccomp/actions_avail").split()
    data: dict = {"actions": actions}
    if "Seccomp:" not in status:
        return Check("seccomp", "containers", MISSING, "no Seccomp: line in /proc/self/status",
                     "a kernel with CONFIG_SECCOMP_FILTER", data)
    evidence = "filter mode available; actions: " + (" ".join(actions) or "?")
    if not active:
        return Check("seccomp", "containers", READY, evidence, "", data)
    from runtime.security.seccomp import default_filter

    start = time.perf_counter()
    prog = default_filter()
    data["compile_ms"] = round(1000 * (time.perf_counter() - start), 2)
    data["instructions"] = len(prog)
    if sys_ is None:
        from runtime.linux.syscalls import syscalls

        sys_ = syscalls()
    problem = _try(sys_)
    if problem:
        return Check("seccomp", "containers", MISSING, f"{evidence}; the default filter failed: {problem}",
                     "containers would run without their syscall filter", data)
    evidence = f"Docker's default profile, {len(prog)} BPF instructions: loads, blocks unshare(CLONE_NEWUSER)"
    return Check("seccomp", "containers", READY, evidence, "", data)
