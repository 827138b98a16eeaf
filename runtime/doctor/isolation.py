"""Namespaces and overlayfs, found by trying them in a throw-away child process.

The child unshares each namespace kind and mounts an overlay inside its own private mount
namespace, then exits: whatever it made dies with it, so the probe leaves no mount or namespace
behind even if it is killed half-way. The parent removes the temp dir it lent the child.

A user without root can make the other namespaces only inside a user namespace of its own (what
rootless containers do), so for such a user the child makes that one first and maps itself to
root in it: the rows then say what this user can have, not that the kernel lacks them.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile

from runtime.doctor.report import DEGRADED, MISSING, READY, Check
from runtime.doctor.util import in_child, map_self_to_root, read
from runtime.linux.syscalls import MS_PRIVATE, MS_REC, NAMESPACES

# The user namespace goes last for root: once in it, later unshares would be judged by its rules.
ORDER = ("mnt", "uts", "ipc", "pid", "net", "cgroup", "time", "user")


def _child(sys_, workdir: str | None) -> dict:
    uid, gid = os.geteuid(), os.getegid()  # before any unshare (see map_self_to_root)
    in_userns = uid != 0
    results: dict = {"ns": {}, "overlay": None, "in_userns": in_userns, "uid": uid}
    for kind in ("user",) + ORDER[:-1] if in_userns else ORDER:
        try:
            sys_.unshare(NAMESPACES[kind])
            if kind == "user" and in_userns:
                map_self_to_root(uid, gid)
            results["ns"][kind] = None
        except OSError as e:
            results["ns"][kind] = errno.errorcode.get(e.errno, str(e.errno))
        if kind == "mnt" and workdir and results["ns"]["mnt"] is None:
            results["overlay"] = _try_overlay(sys_, workdir, userxattr=in_userns)
    return results


def _try_overlay(sys_, workdir: str, userxattr: bool = False) -> str | None:
    try:
        sys_.mount(None, "/", None, MS_REC | MS_PRIVATE)
        merged = os.path.join(workdir, "merged")
        opts = f"lowerdir={workdir}/lower,upperdir={workdir}/upper,workdir={workdir}/work"
        opts += ",userxattr" if userxattr else ""  # trusted.* xattrs are root's only
        sys_.mount("overlay", merged, "overlay", 0, opts)
        with open(os.path.join(merged, "probe")) as f:
            if f.read() != "lower":
                return "overlay mounted but the lower file did not show through"
        with open(os.path.join(merged, "probe"), "w") as f:
            f.write("upper")
        with open(os.path.join(workdir, "lower", "probe")) as f:
            if f.read() != "lower":
                return "a write through the overlay changed the lower layer"
        return None
    except OSError as e:
        return str(e)


def try_in_child(sys_, overlay: bool = True) -> dict:
    """Fork, try everything in the child, return what it reported. The temp dir it lends the child
    goes in any case; ``TemporaryDirectory`` resets permissions as it removes, which a user needs:
    overlayfs leaves its work dir mode 0, and only root in the user namespace could enter it."""
    with contextlib.ExitStack() as stack:
        workdir = None
        if overlay:
            workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="vmvc-doctor-",
                                                                      ignore_cleanup_errors=True))
            for d in ("lower", "upper", "work", "merged"):
                os.mkdir(os.path.join(workdir, d))
            with open(os.path.join(workdir, "lower", "probe"), "w") as f:
                f.write("lower")
        out = in_child(_child, sys_, workdir)
    return out if isinstance(out, dict) else {"ns": {}, "overlay": f"probe child failed: {out}"}


def namespace_checks(results: dict) -> list[Check]:
    checks = []
    for kind in ORDER:
        err = results["ns"].get(kind, "not tried")
        if err is None:
            where = ""
            if results.get("in_userns"):  # not root: what a rootless container of this user gets
                where = f" as uid {results['uid']}"
                where += "" if kind == "user" else ", in its own user namespace"
            checks.append(Check(f"ns.{kind}", "containers", READY, f"unshare({kind}) succeeded{where}"))
        else:
            checks.append(Check(f"ns.{kind}", "containers", MISSING, f"unshare({kind}) failed: {err}",
                                "run as root on a kernel with this namespace enabled"))
    return checks


def userns_check(root: str, results: dict) -> Check:
    """Unprivileged user namespaces (rootless containers), beside root's own."""
    limit = read(root, "proc/sys/user/max_user_namespaces").strip()
    clone = read(root, "proc/sys/kernel/unprivileged_userns_clone").strip()
    evidence = f"max_user_namespaces={limit or '?'}"
    if clone:
        evidence += f", unprivileged_userns_clone={clone}"
    data = {"max_user_namespaces": limit, "unprivileged_userns_clone": clone}
    tried = results["ns"].get("user", "not tried")
    if limit == "0" or tried not in (None, "not tried"):
        return Check("userns", "containers", MISSING, evidence, "set user.max_user_namespaces > 0", data)
    if clone == "0":
        return Check("userns", "containers", DEGRADED, evidence + ": root only",
                     "sysctl kernel.unprivileged_userns_clone=1 for rootless use", data)
    return Check("userns", "containers", READY, evidence, "", data)


def overlay_check(root: str, results: dict) -> Check:
    listed = "overlay" in read(root, "proc/filesystems").split()
    err = results.get("overlay")
    if listed and err is None and results["ns"].get("mnt") is None:
        where = ""
        if results.get("in_userns"):
            where = f" as uid {results['uid']}, in its own user namespace (userxattr)"
        return Check("overlayfs", "containers", READY,
                     f"mounted an overlay (lower/upper/work) in a temp dir{where}")
    why = err or ("not in /proc/filesystems" if not listed else "mount namespace unavailable")
    return Check("overlayfs", "containers", MISSING, f"overlay mount failed: {why}",
                 "modprobe overlay; run as root")
