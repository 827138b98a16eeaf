"""Rootless mode: can a user without root run containers here (:mod:`runtime.rootless`)?

Evidence, in the order it can fail: the kernel lets unprivileged users make user namespaces
(``user.max_user_namespaces``, Debian's ``kernel.unprivileged_userns_clone``, Ubuntu's AppArmor
``kernel.apparmor_restrict_unprivileged_userns``); the setuid ``newuidmap``/``newgidmap`` exist and the
user has subordinate ids (else one id is mapped); and, tried for real in a throw-away child running
as that user, a user namespace with a mount namespace in it takes an overlay mount (Linux >= 5.11).
Last, whether a delegated cgroup v2 subtree would let it have limits (else: none). As root the probe
asks for ``$SUDO_USER`` if set, otherwise for ``nobody``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile

from runtime.doctor.report import DEGRADED, MISSING, READY, Check
from runtime.doctor.util import in_child, map_self_to_root, read


def _who() -> tuple[int, int, str]:
    if os.getuid() != 0:
        return os.getuid(), os.getgid(), pwd.getpwuid(os.getuid()).pw_name
    name = os.environ.get("SUDO_USER") or "nobody"
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return 65534, 65534, "nobody"
    return entry.pw_uid, entry.pw_gid, name


def probe_dir() -> str:
    """Where to try the overlay: for a user, the filesystem its state root is (or will be) on, the
    one its containers' overlays will use; for root asking for someone else, ``/tmp``."""
    if os.getuid() == 0:
        return "/tmp"
    from runtime.paths import state_root

    d = state_root()
    while not os.path.isdir(d) and os.path.dirname(d) != d:
        d = os.path.dirname(d)
    return d if os.access(d, os.W_OK | os.X_OK) else tempfile.gettempdir()


def _child(sys_, uid: int, gid: int, where: str) -> str | None:
    """As ``uid``: a user namespace mapping only itself, a mount namespace, an overlay in ``where``."""
    from runtime.linux.syscalls import (
        CLONE_NEWNS,
        CLONE_NEWUSER,
        MNT_DETACH,
        MS_PRIVATE,
        MS_REC,
        PR_SET_DUMPABLE,
    )

    if os.getuid() == 0:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
        sys_.prctl(PR_SET_DUMPABLE, 1)  # setuid made it non-dumpable: /proc/self/*_map root's
    try:
        sys_.unshare(CLONE_NEWUSER)
    except OSError as e:
        return f"unshare(CLONE_NEWUSER) as uid {uid}: {e.strerror}"
    map_self_to_root(uid, gid)
    work = tempfile.mkdtemp(prefix="vmvc-doctor-rootless-", dir=where)
    merged = os.path.join(work, "merged")
    try:
        for d in ("lower", "upper", "work", "merged"):
            os.mkdir(os.path.join(work, d))
        with open(os.path.join(work, "lower", "probe"), "w") as f:
            f.write("lower")
        sys_.unshare(CLONE_NEWNS)
        sys_.mount(None, "/", None, MS_REC | MS_PRIVATE)
        opts = f"lowerdir={work}/lower,upperdir={work}/upper,workdir={work}/work,userxattr"
        try:
            sys_.mount("overlay", merged, "overlay", 0, opts)
        except OSError as e:
            return f"overlay mount in a user namespace: {e.strerror}"
        with open(os.path.join(merged, "probe")) as f:
            shows = f.read() == "lower"
        os.unlink(os.path.join(merged, "probe"))  # a whiteout: what a container's rm does
        sys_.umount(merged, MNT_DETACH)
        return None if shows else "overlay mounted but the lower file did not show through"
    finally:
        shutil.rmtree(work, ignore_errors=True)  # root in here may remove overlayfs' mode-0 work dir


def check(root: str = "/", active: bool = True, sys_=None) -> Check:
    from runtime.rootless import idmap
    from runtime.rootless.cgroups import delegation

    uid, gid, user = _who()
    limit = read(root, "proc/sys/user/max_user_namespaces").strip()
    clone = read(root, "proc/sys/kernel/unprivileged_userns_clone").strip()
    apparmor = read(root, "proc/sys/kernel/apparmor_restrict_unprivileged_userns").strip()
    kernel = [f"max_user_namespaces={limit or '?'}"]
    kernel += [f"unprivileged_userns_clone={clone}"] if clone else []
    kernel += [f"apparmor_restrict_unprivileged_userns={apparmor}"] if apparmor else []
    plan = idmap.plan(uid, gid, root)
    helpers = ("newuidmap/newgidmap setuid" if plan.newuidmap and plan.newgidmap
               else "newuidmap/newgidmap missing (apt-get install uidmap)")
    sub = f"subuid {plan.subuid[0]}+{plan.subuid[1]}" if plan.subuid else "no /etc/subuid entry"
    cg = delegation(root, uid)
    data = {"user": user, "uid": uid, "kernel": kernel, "maps": plan.describe(), "full_maps": plan.full,
            "cgroup_delegation": cg}
    evidence = f"for {user}: {', '.join(kernel)}; {helpers}; {sub}"
    blocked = (limit == "0" and "max_user_namespaces=0") or (clone == "0" and "unprivileged_userns_clone=0") \
        or (apparmor == "1" and "AppArmor restricts unprivileged user namespaces")
    tried = None
    if not blocked and active:
        if sys_ is None:
            from runtime.linux.syscalls import syscalls

            sys_ = syscalls()
        where = probe_dir()
        tried = in_child(_child, sys_, uid, gid, where)
        data["tried"], data["tried_in"] = tried or "ok", where
    if blocked or tried:
        why = blocked or tried
        return Check("rootless", "containers", MISSING, f"no: {why}; {evidence}",
                     "allow unprivileged user namespaces (sysctl) for rootless containers", data)
    evidence += f"; user namespace + overlay (in {data['tried_in']}): works" if active else ""
    notes = [] if plan.full else [plan.why_single()]
    notes += [] if cg["usable"] else [f"no limits: {cg['why']}"]
    if notes:
        return Check("rootless", "containers", DEGRADED, f"yes: {evidence}", "; ".join(notes), data)
    return Check("rootless", "containers", READY, f"yes: {evidence}", "", data)
