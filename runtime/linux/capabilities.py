"""Linux capability names and the set Docker leaves a container by default.

A root process in a container keeps only these; everything else (``CAP_SYS_ADMIN``,
``CAP_SYS_MODULE``, ``CAP_SYS_TIME``…) is dropped from the bounding set so no exec can regain it.
"""

from __future__ import annotations

NAMES = [
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
]
NUMBER = {name: i for i, name in enumerate(NAMES)}

# moby/oci/caps/defaults.go
DOCKER_DEFAULT = (
    "chown",
    "dac_override",
    "fsetid",
    "fowner",
    "mknod",
    "net_raw",
    "setgid",
    "setuid",
    "setfcap",
    "setpcap",
    "net_bind_service",
    "sys_chroot",
    "kill",
    "audit_write",
)


def mask(names) -> int:
    """The 64-bit capability mask of ``names`` (``"CAP_KILL"`` or ``"kill"``)."""
    bits = 0
    for name in names:
        bits |= 1 << NUMBER[name.lower().removeprefix("cap_")]
    return bits


def last_cap() -> int:
    """The highest capability number this kernel knows (capabilities past our table included)."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return len(NAMES) - 1


def permitted(status: str = "/proc/self/status") -> int:
    """This process's permitted set (a root engine may lack some: no CAP_SYS_RESOURCE on some hosts)."""
    with open(status) as f:
        for line in f:
            if line.startswith("CapPrm:"):
                return int(line.split()[1], 16)
    return 0


def to_drop(keep: int, last: int) -> list[int]:
    """Capability numbers to remove from the bounding set so only ``keep`` remains."""
    return [cap for cap in range(last + 1) if not keep >> cap & 1]
