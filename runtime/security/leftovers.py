"""What a state root has on the host, so a hostile input or a fault can be shown to have left nothing.

The security figures (:mod:`runtime.security.figures`) take a :func:`snapshot` before and after each
case and count a case as handled only if :func:`grown` is empty: no mount below the root, no cgroup of
its containers (a process left running sits in one), no container record, no image, no staging file of
the image store. Cheap enough to take around every case (a glob, the mount table, two listdirs).
"""

from __future__ import annotations

import glob
import json
import os

CGROUPFS = "/sys/fs/cgroup"


def _mounts_below(root: str) -> list[str]:
    real = os.path.realpath(root).rstrip("/") + "/"
    out = []
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                point = line.split()[4].encode().decode("unicode_escape")
                if (point + "/").startswith(real):
                    out.append(point)
    except OSError:
        pass
    return out


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def _indexed(path: str) -> set[str]:
    try:
        with open(path) as f:
            return set(json.load(f).get("images", {}))
    except (OSError, ValueError, AttributeError):
        return set()


def snapshot(root: str) -> dict[str, set[str]]:
    """``root`` is a ``$VMVC_ROOT``: its mounts, cgroups, container records, images and staging files."""
    from runtime.containers.state import Containers

    table = Containers(os.path.join(root, "containers"))
    prefix = table.cgroup_prefix()
    cgroups = {os.path.basename(p) for pattern in (f"{CGROUPFS}/{prefix}*", f"{CGROUPFS}/*/{prefix}*")
               for p in glob.glob(pattern)}
    images = os.path.join(root, "images")
    return {
        "mounts": set(_mounts_below(root)),
        "cgroups": cgroups,
        "containers": set(table.ids()),
        "images": _indexed(os.path.join(images, "index.json")),
        "layers": set(_listdir(os.path.join(images, "layers"))),
        "staging": set(_listdir(os.path.join(images, "tmp"))),
    }


def grown(before: dict, after: dict) -> list[str]:
    """What ``after`` has that ``before`` had not, one short phrase per kind."""
    out = []
    for kind, now in after.items():
        extra = sorted(now - before.get(kind, set()))
        if kind == "cgroups" and len(now) <= len(before.get(kind, ())):
            continue  # the spawner's next stem, made ahead, has a new cgroup name in place of the last
        if extra:
            out.append(f"{len(extra)} {kind} left ({os.path.basename(extra[0])[:24]})")
    return out
