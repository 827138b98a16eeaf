"""``--storage-opt size=``: a cap on a container's writable layer, where the filesystem can do it.

Docker's overlay2 driver caps the upper dir with an XFS *project quota*, and refuses the option on
anything else (``--storage-opt is supported only for overlay over xfs with 'pquota' mount option``).
Nothing else can hold a container's writes to a size: overlayfs has no limit of its own, and ext4 has
project quotas only when made with the ``quota,project`` features and mounted with ``prjquota``.
This host's state root is on plain ext4 (no quota feature), so here the option is refused with one
line naming the filesystem, before anything is created. vmvc does not set project quotas itself
yet, so even a capable filesystem gets a clear refusal rather than a limit that is not enforced.
"""

from __future__ import annotations

import os

from runtime.errors import VmvcError


def parse(opts: list[str]) -> dict[str, int]:
    """``["size=10G"]`` -> ``{"size": 10737418240}``; unknown keys refused as docker does. (The parsing
    lives with the other flag parsers in :mod:`runtime.containers.spec`; imports point one way.)"""
    from runtime.containers.spec import parse_storage_opts

    return parse_storage_opts(opts)


def filesystem(path: str) -> tuple[str, str, str]:
    """(mount point, filesystem type, super-block options) of the mount holding ``path``."""
    path = os.path.realpath(path)
    best = ("/", "unknown", "")
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            point = left.split()[4].replace("\\040", " ")
            fields = right.split()
            inside = path == point or path.startswith(point.rstrip("/") + "/")
            if inside and len(point) >= len(best[0]) and len(fields) >= 3:
                best = (point, fields[0], fields[2])
    return best


def check(opts: list[str], containers_root: str) -> None:
    """Refuse ``--storage-opt`` with one line saying why this filesystem cannot enforce it."""
    if not opts:
        return
    parse(opts)
    point, fstype, options = filesystem(containers_root)
    quota = any(o in ("prjquota", "pquota", "pqnoenforce") for o in options.split(","))
    if fstype == "xfs" and quota:
        why = f"xfs at {point} has project quotas, but vmvc does not set them yet"
    else:
        why = f"{fstype} at {point} has no project quotas"
    raise VmvcError(f"--storage-opt is supported only for overlay over xfs with 'pquota' mount option "
                    f"(here {why})")
