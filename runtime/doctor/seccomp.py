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
from runtime.doctor.util import read

CLONE_NEWUSER = 0x10000000


def _try(sys_) -> str | None:
    """None if the filter loaded and behaved; otherwise what went wrong."""
    from runtime.linux.syscalls import PR_SET_NO_NEW_PRIVS
    from runtime.security.seccomp import default_filter

    prog = default_filter()  # compiled before the fork: the child only installs it
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(r)
            sys_.prctl(PR_SET_NO_NEW_PRIVS, 1)
            sys_.seccomp(prog)
            os.getpid()
            try:
                sys_.unshare(CLONE_NEWUSER)
                msg = "unshare(CLONE_NEWUSER) was allowed under the filter"
            except OSError as e:
                msg = "" if e.errno == errno.EPERM else f"unshare gave {errno.errorcode.get(e.errno)}"
            os.write(w, msg.encode() or b"ok")
        except BaseException as e:
            try:
                os.write(w, str(e).encode()[:500] or b"failed")
            except OSError:
                code = 1
        os._exit(code)
    os.close(w)
    out = os.read(r, 600).decode()
    os.close(r)
    os.waitpid(pid, 0)
    return None if out == "ok" else out or "the probe child died"


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
