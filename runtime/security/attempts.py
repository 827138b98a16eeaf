"""Escape attempts, made from inside a container as an attacker would: the confinement, tried.

Each :data:`ATTEMPTS` entry is a shell snippet (busybox) or a one-syscall probe
(:mod:`runtime.security.probes`) that exits 0 only if the attack *worked*. :func:`run` starts one
``--rm`` container of a probe image and runs every snippet in a subshell, so the result is a list of
``(name, blocked, exit code)``; ``benchmarks.escapes`` reports it (with and without the seccomp filter,
to show which defences hold without it), and the tests assert that all are blocked.

Nothing here can hurt the host if an attempt succeeds: the probes pass NULL pointers or invalid magic
numbers (``add_key(NULL…)`` would say EFAULT, ``reboot(0…)`` EINVAL), and the cgroup writes only lift
the container's own limits.
"""

from __future__ import annotations

from runtime.security.x86_64 import NUMBERS, X32_SYSCALL_BIT

KEY_SPEC_SESSION_KEYRING = -3
CLONE_NEWUSER = 0x10000000
# probe name -> (nr, args, via int 0x80); what a success would have given is in the comment
PROBES = {
    "keyctl": (NUMBERS["keyctl"], (0, KEY_SPEC_SESSION_KEYRING, 0), False),  # the session keyring id
    "add_key": (NUMBERS["add_key"], (), False),  # EFAULT: the kernel read the arguments
    "request_key": (NUMBERS["request_key"], (), False),
    "unshare_user": (NUMBERS["unshare"], (CLONE_NEWUSER,), False),
    "bpf": (NUMBERS["bpf"], (0, 0, 0), False),
    "perf_event_open": (NUMBERS["perf_event_open"], (), False),
    "open_by_handle_at": (NUMBERS["open_by_handle_at"], (), False),  # "shocker"
    "init_module": (NUMBERS["init_module"], (), False),
    "reboot": (NUMBERS["reboot"], (), False),  # EINVAL (bad magic) if it got through
    "userfaultfd": (NUMBERS["userfaultfd"], (), False),
    "i386_call": (20, (), True),  # getpid through int 0x80: other numbers, must not be judged
    "x32_call": (X32_SYSCALL_BIT | NUMBERS["getpid"], (), False),
}

# name -> (what it tries, snippet that exits 0 only if it worked)
ATTEMPTS = {
    "user namespace": ("unshare -U: every capability inside a new user namespace", "unshare -U true"),
    "mount namespace": ("a private mount table to mount things in", "unshare -m true"),
    "mount tmpfs": ("mount(2) in the container's own mount namespace", "mount -t tmpfs none /mnt"),
    "cgroup v1 mount": ("mount a v1 hierarchy (pids) to reach host cgroups",
                        "mount -t cgroup -o pids none /mnt"),
    "cgroup2 mount": ("mount the unified hierarchy", "mount -t cgroup2 none /mnt"),
    "host cgroups visible": ("see any cgroup but its own under /sys/fs/cgroup",
                             '[ "$(find /sys/fs/cgroup -mindepth 2 -type d | wc -l)" -gt 0 ]'),
    "raise pids limit": ("lift its own pids.max", "echo max > /sys/fs/cgroup/pids/pids.max"),
    "raise memory limit": ("lift its own memory limit",
                           "echo -1 > /sys/fs/cgroup/memory/memory.limit_in_bytes"),
    "cgroup.kill": ("a writable cgroup.kill (kills every process of a cgroup)",
                    "for f in /sys/fs/cgroup/cgroup.kill /sys/fs/cgroup/unified/cgroup.kill; do"
                    " [ -e $f ] && ( exec 3>> $f ) && exit 0; done; exit 1"),  # opened, never written
    "host device": ("mknod /dev/mem and read it", "mknod /tmp/mem c 1 1 && head -c 1 /tmp/mem > /dev/null"),
    "kcore": ("read kernel memory through /proc/kcore", '[ "$(head -c 1 /proc/kcore | wc -c)" -gt 0 ]'),
    "sysrq": ("write /proc/sysrq-trigger", "echo h > /proc/sysrq-trigger"),
    "sethostname": ("change the hostname (Docker refuses it without CAP_SYS_ADMIN)", "hostname evil"),
    "set clock": ("set the host's clock (to the time it is: harmless if it worked)",
                  '! date -s "$(date +%Y.%m.%d-%H:%M:%S)" 2>&1 | grep -q "can.t set"'),
    **{f"syscall {name}": (f"the {name} system call", f"/probe/{name}") for name in PROBES},
}

IMAGE = "vmvc-escape-probes:latest"


def script() -> str:
    """One shell script trying every attempt in a subshell, printing ``<index> <exit code>`` lines."""
    lines = ["mkdir -p /mnt"]
    for i, (_, (_, snippet)) in enumerate(ATTEMPTS.items()):
        lines.append(f"( {snippet} ) >/dev/null 2>&1; echo {i} $?")
    return "\n".join(lines)


def run(engine, security_opt=()) -> list[dict]:
    """Try every attempt in one ``--rm`` container; ``[{name, what, blocked, code}]``."""
    from runtime.containers import Spec
    from runtime.images import open_store
    from runtime.security import probes

    store = open_store()
    try:
        store.resolve(IMAGE)
    except Exception:
        probes.image(store, IMAGE, PROBES)
    result = engine.run(Spec(IMAGE, ["sh", "-c", script()], auto_remove=True, security_opt=list(security_opt),
                             pids_limit=64, memory=64 << 20))
    codes = dict(line.split() for line in result.stdout.decode().splitlines() if line.strip())
    out = []
    for i, (name, (what, _)) in enumerate(ATTEMPTS.items()):
        code = int(codes.get(str(i), -1))
        out.append({"name": name, "what": what, "blocked": code != 0, "code": code})
    return out
