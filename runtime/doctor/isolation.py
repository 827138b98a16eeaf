"""Namespaces and overlayfs, found by trying them in a throw-away child process.

The child unshares each namespace kind and mounts an overlay inside its own private mount
namespace, then exits: whatever it made dies with it, so the probe leaves no mount or namespace
behind even if it is killed half-way. The parent removes the temp dir it lent the child.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile

from runtime.doctor.report import DEGRADED, MISSING, READY, Check
from runtime.doctor.util import read
from runtime.linux.syscalls import MS_PRIVATE, MS_REC, NAMESPACES

# The user namespace goes last: once in it, later unshares would be judged by its rules.
ORDER = ("mnt", "uts", "ipc", "pid", "net", "cgroup", "time", "user")


def _child(sys_, workdir: str | None) -> dict:
    results: dict = {"ns": {}, "overlay": None}
    for kind in ORDER:
        try:
            sys_.unshare(NAMESPACES[kind])
            results["ns"][kind] = None
        except OSError as e:
            results["ns"][kind] = errno.errorcode.get(e.errno, str(e.errno))
        if kind == "mnt" and workdir and results["ns"]["mnt"] is None:
            results["overlay"] = _try_overlay(sys_, workdir)
    return results


def _try_overlay(sys_, workdir: str) -> str | None:
    try:
        sys_.mount(None, "/", None, MS_REC | MS_PRIVATE)
        merged = os.path.join(workdir, "merged")
        opts = f"lowerdir={workdir}/lower,upperdir={workdir}/upper,workdir={workdir}/work"
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
    """Fork, try everything in the child, return what it reported."""
    workdir = None
    if overlay:
        workdir = tempfile.mkdtemp(prefix="vmvc-doctor-")
        for d in ("lower", "upper", "work", "merged"):
            os.mkdir(os.path.join(workdir, d))
        with open(os.path.join(workdir, "lower", "probe"), "w") as f:
            f.write("lower")
    r, w = os.pipe()
    try:
        pid = os.fork()
        if pid == 0:  # child: never return into the caller's code
            code = 0
            try:
                os.close(r)
                os.write(w, json.dumps(_child(sys_, workdir)).encode())
            except BaseException:
                code = 1
            os._exit(code)
        os.close(w)
        chunks = []
        while chunk := os.read(r, 65536):
            chunks.append(chunk)
        os.waitpid(pid, 0)
        return json.loads(b"".join(chunks) or b'{"ns": {}, "overlay": "probe child failed"}')
    finally:
        for fd in (r, w):
            try:
                os.close(fd)
            except OSError:
                pass
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def namespace_checks(results: dict) -> list[Check]:
    checks = []
    for kind in ORDER:
        err = results["ns"].get(kind, "not tried")
        if err is None:
            checks.append(Check(f"ns.{kind}", "containers", READY, f"unshare({kind}) succeeded"))
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
        return Check("overlayfs", "containers", READY, "mounted an overlay (lower/upper/work) in a temp dir")
    why = err or ("not in /proc/filesystems" if not listed else "mount namespace unavailable")
    return Check("overlayfs", "containers", MISSING, f"overlay mount failed: {why}",
                 "modprobe overlay; run as root")
