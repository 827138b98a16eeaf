"""Which device nodes a container may use: Docker's default device allow-list.

Why. Namespaces do not stop ``mknod``: with CAP_MKNOD a container can make ``/dev/loop0`` or
``/dev/sda`` and read the host's disks through them. Only the kernel's device controller checks
every ``open`` of a device node. On cgroup v1 that is the ``devices`` hierarchy: a container's
cgroup denies everything (``a``) and allows back Docker's short list below. On cgroup v2 the
same check needs a ``BPF_CGROUP_DEVICE`` program; this engine does not load one, so the v2 backend
says ``devices_enforced = False`` and the container's filesystems are mounted ``nodev`` and
CAP_MKNOD is dropped instead (see :func:`runtime.containers.init.prepare`).
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
