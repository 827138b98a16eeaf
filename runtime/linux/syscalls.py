"""The kernel calls a container engine needs, through ctypes.

Python 3.11 has no ``os.unshare``/``os.setns``, and ``mount``/``pivot_root`` never were in ``os``.
Every kernel call of the engine goes through an object with this module's interface, so that logic
above it can be unit-tested with :class:`runtime.linux.fake.FakeSyscalls` and no root.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

# Namespace flags (linux/sched.h).
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWTIME = 0x00000080

NAMESPACES = {
    "mnt": CLONE_NEWNS,
    "uts": CLONE_NEWUTS,
    "ipc": CLONE_NEWIPC,
    "pid": CLONE_NEWPID,
    "net": CLONE_NEWNET,
    "cgroup": CLONE_NEWCGROUP,
    "user": CLONE_NEWUSER,
    "time": CLONE_NEWTIME,
}

# Mount flags (linux/mount.h).
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_STRICTATIME = 1 << 24
MNT_DETACH = 2

# prctl options.
PR_SET_PDEATHSIG = 1
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36
PR_SET_DUMPABLE = 4

_SYS_PIVOT_ROOT = 155  # x86-64
_SYS_SETNS = 308
_SYS_CAPSET = 126
_SYS_OPENAT2 = 437

# openat2 resolve flags (linux/openat2.h).
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_IN_ROOT = 0x10
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

# ioctl numbers for bringing an interface up (linux/sockios.h) and for ptys (asm-generic/ioctls.h).
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
TIOCSCTTY = 0x540E
TIOCGPTN = 0x80045430
TIOCSPTLCK = 0x40045431


class Syscalls:
    """Real kernel calls. Errors raise :class:`OSError` with errno and the call named."""

    def __init__(self) -> None:
        self._libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

    def _check(self, result: int, what: str) -> int:
        if result < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"{what}: {os.strerror(err)}")
        return result

    def unshare(self, flags: int) -> None:
        self._check(self._libc.unshare(ctypes.c_int(flags)), "unshare")

    def setns(self, fd: int, nstype: int = 0) -> None:
        self._check(self._libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int = 0,
              data: str | None = None) -> None:
        enc = lambda s: s.encode() if s is not None else None  # noqa: E731
        self._check(self._libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags),
                                     enc(data)), f"mount {target}")

    def umount(self, target: str, flags: int = 0) -> None:
        self._check(self._libc.umount2(target.encode(), ctypes.c_int(flags)), f"umount {target}")

    def pivot_root(self, new_root: str, put_old: str) -> None:
        self._check(self._libc.syscall(ctypes.c_long(_SYS_PIVOT_ROOT), new_root.encode(),
                                       put_old.encode()), "pivot_root")

    def sethostname(self, name: str) -> None:
        raw = name.encode()
        self._check(self._libc.sethostname(raw, ctypes.c_size_t(len(raw))), "sethostname")

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
        return self._check(self._libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg2),
                                            ctypes.c_ulong(arg3), ctypes.c_ulong(arg4),
                                            ctypes.c_ulong(arg5)), "prctl")


    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        """Set this thread's capability sets (64-bit masks), the way libcap's ``cap_set_proc`` does."""
        header = (ctypes.c_uint32 * 2)(_LINUX_CAPABILITY_VERSION_3, 0)
        data = (ctypes.c_uint32 * 6)(effective & 0xFFFFFFFF, permitted & 0xFFFFFFFF,
                                     inheritable & 0xFFFFFFFF, effective >> 32, permitted >> 32,
                                     inheritable >> 32)
        self._check(self._libc.syscall(ctypes.c_long(_SYS_CAPSET), header, data), "capset")

    def openat2(self, dirfd: int, path: str, flags: int, mode: int = 0, resolve: int = 0) -> int:
        """``openat2(2)`` (Linux 5.6+): ``resolve`` flags such as ``RESOLVE_IN_ROOT`` make the kernel
        treat ``dirfd`` as ``/`` for every ``..`` and absolute symlink on the way. Returns the fd."""
        how = (ctypes.c_uint64 * 3)(flags, mode, resolve)
        fd = self._libc.syscall(
            ctypes.c_long(_SYS_OPENAT2), ctypes.c_int(dirfd), os.fsencode(path), ctypes.byref(how),
            ctypes.c_size_t(ctypes.sizeof(how)),
        )
        return self._check(fd, f"openat2 {path}")

    def seccomp(self, prog) -> None:
        """Install a compiled seccomp filter (:class:`runtime.security.seccomp.Filter`) on this thread."""
        prog.install()

    def link_up(self, name: str = "lo") -> None:
        """Bring a network interface up in the current network namespace (``ip link set lo up``)."""
        import fcntl
        import socket
        import struct

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            ifreq = struct.pack("16sH14x", name.encode(), 0)
            flags = struct.unpack("16sH14x", fcntl.ioctl(s, SIOCGIFFLAGS, ifreq))[1]
            fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14x", name.encode(), flags | IFF_UP))


_default: Syscalls | None = None


def syscalls() -> Syscalls:
    """The process-wide real syscall object (loading libc once)."""
    global _default
    if _default is None:
        _default = Syscalls()
    return _default
