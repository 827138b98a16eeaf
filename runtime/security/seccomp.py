"""Compile a seccomp profile to a classic BPF filter and install it: the container's syscall firewall.

Why. Capabilities and namespaces leave a root process in a container plenty of kernel surface that
Docker closes with seccomp: ``unshare``/``clone`` with namespace flags (a user namespace gives back
every capability inside it, and with it mounts of cgroup hierarchies), ``setns``, ``mount``,
``keyctl``/``add_key``/``request_key`` (the kernel keyring is not namespaced), ``bpf``,
``perf_event_open``, ``personality`` beyond a few values, ``socket(AF_VSOCK)``... The default filter
is Docker's default profile (:mod:`runtime.security.profile`), resolved for Docker's default
capabilities.

The program (see :mod:`runtime.security.bpf`):

1. ``arch != AUDIT_ARCH_X86_64`` -> kill the process: a 32-bit ``int 0x80`` call has other numbers,
   and a filter written for x86_64 numbers must not judge it (stricter than Docker, which also lets
   i386 binaries run); the same for x32 calls (``nr`` with bit 30 set);
2. a binary search on the syscall number over *intervals* of numbers that share one outcome (~8
   comparisons for any call instead of a linear scan of ~350);
3. at a leaf, either ``ret action`` or, for calls with argument rules (``clone``, ``socket``,
   ``personality``), the rules in profile order, each a conjunction of 64-bit comparisons made of
   two 32-bit halves; a rule without arguments (if any) applies after them, then the default action.

Cost. Compiling Docker's profile takes a few ms, so the spawner does it once, before it forks stems
(:func:`default_filter` caches it; a stem inherits the bytes and the ready ``sock_fprog``).
Installing it is one ``seccomp(2)`` call right before ``execve`` (:func:`install`).
"""

from __future__ import annotations

import ctypes
import os

from runtime.security import bpf
from runtime.security.profile import KILL_PROCESS, Rule, default_profile, resolve
from runtime.security.x86_64 import AUDIT_ARCH_X86_64, NUMBERS, X32_SYSCALL_BIT

# struct seccomp_data offsets
NR, ARCH = 0, 4


def _arg(index: int, high: bool) -> int:
    return 16 + 8 * index + (4 if high else 0)


def _compare(p: bpf.Program, index: int, op: str, value: int, two: int, fail: str) -> None:
    """Fall through when ``args[index] <op> value`` holds, else jump to ``fail``."""
    hi, lo = value >> 32, value & 0xFFFFFFFF
    ok = p.label()
    if op == "SCMP_CMP_EQ":
        p.load(_arg(index, True))
        p.jump(bpf.JEQ, hi, None, fail)
        p.load(_arg(index, False))
        p.jump(bpf.JEQ, lo, None, fail)
    elif op == "SCMP_CMP_NE":
        p.load(_arg(index, True))
        p.jump(bpf.JEQ, hi, None, ok)
        p.load(_arg(index, False))
        p.jump(bpf.JEQ, lo, fail, None)
    elif op == "SCMP_CMP_MASKED_EQ":  # (arg & value) == valueTwo
        p.load(_arg(index, True))
        p.and_(hi)
        p.jump(bpf.JEQ, two >> 32, None, fail)
        p.load(_arg(index, False))
        p.and_(lo)
        p.jump(bpf.JEQ, two & 0xFFFFFFFF, None, fail)
    elif op in ("SCMP_CMP_GT", "SCMP_CMP_GE", "SCMP_CMP_LT", "SCMP_CMP_LE"):
        greater, strict = op in ("SCMP_CMP_GT", "SCMP_CMP_GE"), op in ("SCMP_CMP_GT", "SCMP_CMP_LT")
        above, below = (ok, fail) if greater else (fail, ok)  # where a high word above/below goes
        p.load(_arg(index, True))
        p.jump(bpf.JGT, hi, above, None)
        p.jump(bpf.JEQ, hi, None, below)
        p.load(_arg(index, False))  # equal high words: the low words decide
        if greater:
            p.jump(bpf.JGT if strict else bpf.JGE, lo, None, fail)
        else:
            p.jump(bpf.JGE if strict else bpf.JGT, lo, fail, None)
    else:
        raise ValueError(f"unknown comparison {op}")
    p.place(ok)


def _leaf(p: bpf.Program, rules: list[Rule] | None, default: int) -> None:
    """The code for one syscall number (A holds it; it is free to clobber)."""
    if not rules:
        p.ret(default)
        return
    plain = [r for r in rules if not r.args]
    for rule in (r for r in rules if r.args):
        fail = p.label()
        for index, op, value, two in rule.args:
            _compare(p, index, op, value, two, fail)
        p.ret(rule.action)
        p.place(fail)
    p.ret(plain[0].action if plain else default)


def _outcome(rules: list[Rule] | None, default: int):
    """What a number's leaf does: an action (hashable, so neighbours can share an interval) or its rules."""
    if not rules:
        return default
    if all(not r.args for r in rules):
        return rules[0].action
    return ("rules", rules[0].nr)


def compile_rules(default: int, rules: list[Rule]) -> bytes:
    """The filter for ``rules`` (from :func:`runtime.security.profile.resolve`)."""
    by_nr: dict[int, list[Rule]] = {}
    for rule in rules:
        by_nr.setdefault(rule.nr, []).append(rule)
    top = max(NUMBERS.values()) + 1
    intervals: list[list] = []  # [lo, outcome]; each runs up to the next one's lo
    for nr in range(top + 1):
        outcome = _outcome(by_nr.get(nr), default) if nr < top else default
        if not intervals or intervals[-1][1] != outcome or isinstance(outcome, tuple):
            intervals.append([nr, outcome])
    p = bpf.Program()
    kill = p.label()
    p.load(ARCH)
    p.jump(bpf.JEQ, AUDIT_ARCH_X86_64, None, kill)
    p.load(NR)
    p.jump(bpf.JGE, X32_SYSCALL_BIT, kill, None)

    def tree(part: list[list]) -> None:
        if len(part) == 1:
            lo, outcome = part[0]
            _leaf(p, by_nr.get(lo) if isinstance(outcome, tuple) else None,
                  outcome if not isinstance(outcome, tuple) else default)
            return
        mid = len(part) // 2
        right = p.label()
        p.jump(bpf.JGE, part[mid][0], right, None)
        tree(part[:mid])
        p.place(right)
        tree(part[mid:])

    tree(intervals)
    p.place(kill)
    p.ret(KILL_PROCESS)
    return p.assemble()


# What the container's own init does between loading the filter and ``execve`` (and to report a failed
# ``execve``): a profile must let these through, or the start would die without a word.
NEEDED = ("execve", "prctl", "poll", "getppid", "rt_sigaction", "rt_sigprocmask", "brk", "mmap", "munmap",
          "close", "sendto", "write", "exit_group")


def blocked_needs(code: bytes) -> list[str]:
    """The :data:`NEEDED` calls that ``code`` does not allow (ALLOW or LOG), tried in the emulator."""
    import struct

    ok = (0x7FFF0000, 0x7FFC0000)
    return [name for name in NEEDED
            if bpf.run(code, struct.pack("=II56x", NUMBERS[name], AUDIT_ARCH_X86_64)) not in ok]


def compile_profile(profile: dict, caps) -> bytes:
    """A loaded profile (:func:`runtime.security.profile.load`) for a container with ``caps``."""
    return compile_rules(*resolve(profile, caps))


# -- installing -------------------------------------------------------------------------------------
_SYS_SECCOMP = 317  # x86_64
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_GET_ACTION_AVAIL = 2


class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint32),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


class Filter:
    """A compiled filter with its ``sock_fprog`` built ahead, so installing it is one system call."""

    def __init__(self, code: bytes, flags: int = 0) -> None:
        """``flags``: ``seccomp(2)`` filter flags from the profile (``SPEC_ALLOW``: keep the CPU's
        speculation mitigations as they are, instead of forcing them on this process)."""
        self.code, self.flags = code, flags
        n = len(code) // 8
        self._buf = (_SockFilter * n).from_buffer_copy(code)
        self._prog = _SockFprog(n, ctypes.cast(self._buf, ctypes.POINTER(_SockFilter)))
        self._syscall = ctypes.CDLL(None, use_errno=True).syscall  # libc, already loaded: no ldconfig run

    def __len__(self) -> int:
        return len(self.code) // 8

    def warm(self) -> None:
        """Make, ahead of time, the first-touch cost of :meth:`install` in a freshly forked process
        (copy-on-write faults of the objects and the ctypes call path it uses, ~0.1 ms here): one
        harmless ``seccomp(SECCOMP_GET_ACTION_AVAIL)`` call through the same function. A stem does
        this while it waits, so a start pays only the kernel's part."""
        action = ctypes.c_uint32(0x7FFF0000)
        self._syscall(ctypes.c_long(_SYS_SECCOMP), ctypes.c_uint(SECCOMP_GET_ACTION_AVAIL), ctypes.c_uint(0),
                      ctypes.byref(action))
        len(self._buf), self._prog.len  # noqa: B018  (touched)

    def install(self) -> None:
        """Load the filter on this thread (needs ``no_new_privs`` or CAP_SYS_ADMIN). Irreversible, and
        inherited by every child and across ``execve``."""
        if self._syscall(ctypes.c_long(_SYS_SECCOMP), ctypes.c_uint(SECCOMP_SET_MODE_FILTER),
                         ctypes.c_uint(self.flags), ctypes.byref(self._prog)) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"seccomp: {os.strerror(err)}")


_default: Filter | None = None


def default_filter() -> Filter:
    """Docker's default profile for Docker's default capabilities, compiled once per process."""
    global _default
    if _default is None:
        from runtime.linux.capabilities import DOCKER_DEFAULT

        _default = Filter(compile_profile(default_profile(), DOCKER_DEFAULT))
    return _default


def filter_for(security: dict | None) -> Filter | None:
    """The filter a container's process gets (``process["security"]``, see
    :mod:`runtime.security.options`): Docker's default (compiled once), a custom profile (compiled
    now: only such containers pay for it), or ``None`` for ``seccomp=unconfined`` and ``--privileged``."""
    security = security or {}
    choice = security.get("seccomp")
    if security.get("privileged") or choice == "unconfined":
        return None
    if not choice:
        return default_filter()
    from runtime.linux.capabilities import DOCKER_DEFAULT
    from runtime.security.profile import load

    loaded = load(choice)
    return Filter(compile_profile(loaded, DOCKER_DEFAULT), loaded["flags"])
