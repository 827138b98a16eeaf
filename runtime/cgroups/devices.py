"""Which device nodes a container may use: Docker's default device allow-list.

Why. Namespaces do not stop ``mknod``: with CAP_MKNOD a container can make ``/dev/loop0`` or
``/dev/sda`` and read the host's disks through them. Only the kernel's device controller checks
every ``open`` of a device node. On cgroup v1 that is the ``devices`` hierarchy: a container's
cgroup denies everything (``a``) and allows back Docker's short list below. On cgroup v2 the
same check needs a ``BPF_CGROUP_DEVICE`` program; this engine does not load one, so the v2 backend
says ``devices_enforced = False``, and a container that finds itself outside a devices hierarchy
(:func:`available`) gets its rootfs and binds mounted ``nodev`` and CAP_MKNOD dropped from its
bounding set instead (see :func:`runtime.containers.init.prepare`). That is stricter than Docker
(whose containers may ``mknod``), but without a device program it is the only safe choice.
"""

from __future__ import annotations

import os

from runtime.cgroups.base import write

# type major:minor access — the same list runc/Docker give every non-privileged container.
ALLOWED = (
    "c *:* m",  # mknod of any char device is allowed (opening it is not)
    "b *:* m",  # likewise block devices
    "c 1:3 rwm",  # /dev/null
    "c 1:5 rwm",  # /dev/zero
    "c 1:7 rwm",  # /dev/full
    "c 1:8 rwm",  # /dev/random
    "c 1:9 rwm",  # /dev/urandom
    "c 5:0 rwm",  # /dev/tty
    "c 5:1 rwm",  # /dev/console
    "c 5:2 rwm",  # /dev/ptmx
    "c 136:* rwm",  # /dev/pts/*
    "c 10:200 rwm",  # /dev/net/tun
)


def restrict(cgroup_dir: str) -> None:
    """Deny every device in the v1 ``devices`` cgroup ``cgroup_dir``, then allow :data:`ALLOWED`.

    Must run before any process joins (a new v1 devices cgroup inherits its parent's list,
    which on the host root is ``a *:* rwm``)."""
    write(os.path.join(cgroup_dir, "devices.deny"), "a")
    for rule in ALLOWED:
        write(os.path.join(cgroup_dir, "devices.allow"), rule)


PROC_CGROUP = "/proc/self/cgroup"


def available(proc_cgroup: str | None = None) -> bool:
    """Whether this host's containers have their device access checked by a devices cgroup: the
    process is under a v1 ``devices`` hierarchy (listed in ``/proc/self/cgroup``), which the v1
    backend always restricts (:func:`restrict`). False on pure v2, where that check would need a
    ``BPF_CGROUP_DEVICE`` program this engine does not load; the caller must then fall back to
    ``nodev`` mounts and no CAP_MKNOD."""
    try:
        with open(proc_cgroup or PROC_CGROUP) as f:
            lines = f.read().splitlines()
    except OSError:
        return False
    return any("devices" in line.split(":", 2)[1].split(",") for line in lines if line.count(":") >= 2)
