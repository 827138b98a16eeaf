"""cgroups for rootless containers: none, unless the host delegated a cgroup v2 subtree to the user.

A user may only write cgroups it owns. systemd hands each logged-in user such a subtree on a pure
cgroup v2 host (``user@UID.service``, with ``memory pids cpu`` delegated); that is where rootless
Docker and Podman put their containers' limits. cgroup v1 hierarchies are never delegated to users
(the memory, cpu and pids controllers there belong to host root), and on a hybrid host like this
project's the v2 mount carries no controllers. So :func:`delegation` looks for a subtree the user
owns with the controllers in it and says what it found; without one, rootless containers run in
the cgroup of whoever started the spawner, with no limits of their own (:class:`NoLimits`), and the
limit flags fail at ``create`` with one line (:func:`runtime.rootless.refuse_unsupported`).
Placing containers in a delegated subtree is not done yet: it needs a host that has one to prove it.
"""

from __future__ import annotations

import os

from runtime.cgroups import devices  # noqa: F401 (exec children import it after entering a container)
from runtime.cgroups.base import Limits, Manager, Stats

WANTED = ("memory", "cpu", "pids")


def delegation(root: str = "/", uid: int | None = None) -> dict:
    """``{"path", "controllers", "writable", "usable", "why"}`` for the cgroup v2 directory this
    process is in: whether the user (``uid``, default this process's) owns it and it has the
    controllers limits need."""
    uid = os.getuid() if uid is None else uid
    at = lambda p: os.path.join(root, p.lstrip("/"))  # noqa: E731
    v2 = None
    try:
        with open(at("/proc/self/mounts")) as f:
            for line in f:
                parts = line.split()
                if len(parts) > 2 and parts[2] == "cgroup2":
                    v2 = parts[1]
        with open(at("/proc/self/cgroup")) as f:
            rel = next((line.strip()[3:] for line in f if line.startswith("0::")), None)
    except OSError:
        rel = None
    out = {"path": None, "controllers": [], "writable": False, "usable": False}
    if not v2 or rel is None:
        out["why"] = "this host has no cgroup v2 hierarchy"
        return out
    path = os.path.join(v2, rel.lstrip("/"))
    try:
        with open(at(os.path.join(path, "cgroup.controllers"))) as f:
            controllers = f.read().split()
        owner = os.stat(at(path)).st_uid
    except OSError:
        controllers, owner = [], -1
    lacking = [c for c in WANTED if c not in controllers]
    out.update(path=path, controllers=controllers, writable=owner == uid)
    if lacking:
        out["why"] = (f"the cgroup v2 tree here ({path}) has no {'/'.join(lacking)} controller "
                      "(cgroup v1 carries them, and v1 is never delegated to users)")
    elif owner != uid:
        out["why"] = (f"the cgroup v2 directory {path} is not delegated to this user "
                      "(systemd's user@.service does that)")
    else:
        out["why"] = f"{path} is delegated to this user, but vmvc does not put rootless containers there yet"
    return out


class NoLimits(Manager):
    """The cgroup manager of a rootless spawner without delegation: containers make no cgroups and
    get no limits; everything else (stop, kill, exits) goes through their pidfds as always."""

    backend = "none"
    devices_enforced = False

    def create(self, name: str) -> None:
        return None

    def dirs(self, name: str) -> list[str]:
        return []

    def names(self, prefix: str) -> list[str]:
        return []

    def set_limits(self, name: str, limits: Limits) -> None:
        if limits.memory or limits.cpus or limits.pids:  # create refused them already; never silent
            raise OSError("rootless mode: no cgroup to put limits in")

    def kill(self, name: str) -> None:
        return None

    def oom_killed(self, name: str) -> bool:
        return False

    def stats(self, name: str) -> Stats:
        return Stats(0, None, 0, 0, None)
