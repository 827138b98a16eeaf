"""Which cgroup layout the host has (v1, v2, hybrid) and where each controller is usable.

The answer picks the cgroup backend: on a hybrid host (v1 hierarchies with the controllers, an
empty v2 mount beside them) limits must go through v1; on a pure-v2 host through v2.
"""

from __future__ import annotations

from runtime.doctor.report import DEGRADED, MISSING, READY, Check
from runtime.doctor.util import read

WANTED = ("memory", "cpu", "pids")


def mounts(root: str) -> list[tuple[str, str, str]]:
    """(mountpoint, fstype, options) of every cgroup mount in ``proc/mounts``."""
    found = []
    for line in read(root, "proc/mounts").splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[2] in ("cgroup", "cgroup2"):
            found.append((parts[1], parts[2], parts[3]))
    return found


def layout(root: str) -> dict:
    """v1 hierarchies with their controllers, the v2 mount with its controllers, and the layout."""
    known = {line.split()[0] for line in read(root, "proc/cgroups").splitlines()[1:] if line.strip()}
    v1: dict[str, list[str]] = {}
    v2_path, v2_controllers = None, []
    for mountpoint, fstype, options in mounts(root):
        if fstype == "cgroup2":
            v2_path = mountpoint
            v2_controllers = read(root, f"{mountpoint}/cgroup.controllers").split()
        else:
            opts = options.split(",")
            ctrls = [o for o in opts if o in known or o in ("cpu", "cpuacct", "memory", "pids",
                                                             "cpuset", "devices", "freezer", "blkio")]
            v1[mountpoint] = ctrls
    v1_controllers = sorted({c for cs in v1.values() for c in cs})
    if v1 and v2_path:
        kind = "hybrid"
    elif v2_path:
        kind = "v2"
    elif v1:
        kind = "v1"
    else:
        kind = "none"
    return {"layout": kind, "v1": v1, "v1_controllers": v1_controllers,
            "v2_path": v2_path, "v2_controllers": v2_controllers}


def backend_for(info: dict) -> str | None:
    """The backend limits should use: v2 if it carries the controllers we need, else v1."""
    if info["v2_path"] and all(c in info["v2_controllers"] for c in WANTED):
        return "v2"
    if all(c in info["v1_controllers"] for c in WANTED):
        return "v1"
    if info["v2_path"]:
        return "v2"
    return "v1" if info["v1"] else None


def check(root: str) -> Check:
    info = layout(root)
    backend = backend_for(info)
    info["backend"] = backend
    parts = [f"layout {info['layout']}"]
    if info["v1_controllers"]:
        parts.append("v1: " + ",".join(info["v1_controllers"]))
    if info["v2_path"]:
        parts.append(f"v2 at {info['v2_path']}: " + (",".join(info["v2_controllers"]) or "no controllers"))
    evidence = "; ".join(parts)
    if backend is None:
        return Check("cgroups", "cgroups", MISSING, evidence or "no cgroup mounts",
                     "mount cgroup2 at /sys/fs/cgroup", info)
    usable = info["v2_controllers"] if backend == "v2" else info["v1_controllers"]
    lacking = [c for c in WANTED if c not in usable]
    if lacking:
        return Check("cgroups", "cgroups", DEGRADED, f"{evidence}; backend {backend}",
                     f"controllers {','.join(lacking)} unavailable: those limits are ignored", info)
    return Check("cgroups", "cgroups", READY, f"{evidence}; limits via {backend}", "", info)
