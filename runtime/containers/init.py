"""The child side of a start: from a forked stem to ``execve`` of the container's process.

Runs in a process forked from the spawner that is already PID 1 of a new PID namespace and already
inside the container's cgroup (see :mod:`runtime.containers.spawner`). In order:

1. ahead of time (:func:`prepare`): ``unshare`` mount, UTS, IPC, cgroup and net namespaces, ``/``
   rprivate, ``lo`` up, capability bounding set and ``no_new_privs``; on a private staging tmpfs,
   ``/proc``, a tmpfs ``/dev`` with null/zero/full/random/urandom/tty, a private ``devpts``,
   ``/dev/shm`` and read-only ``/sys``, with Docker's masked and read-only paths on them, and a
   read-only ``/sys/fs/cgroup`` showing only the container's own cgroups (:func:`cgroupfs_plan`);
2. on start: back to the host netns for ``--network host``; mount the image's layers + the
   container's upper dir (overlayfs); move the staged system mounts in; bind ``-v`` volumes;
3. ``pivot_root`` into it and detach the old root (the staging tmpfs goes with it);
4. hostname, user, working dir, the seccomp filter (:mod:`runtime.security.seccomp`, compiled once
   in the spawner), ``execve``.

A container outlives its spawner (live restore): its stdout and stderr are FIFOs in its directory
(:func:`open_fifos`) and it drops ``PR_SET_PDEATHSIG`` right before ``execve``
(:func:`rearm_death_signal`); a ``-t`` container (whose pty master is the spawner's) and an ``exec``
keep it, and so does a stem until then.

Every child forked from the spawner (stem or ``exec``) is made non-dumpable first thing
(:func:`child_prologue`), see :func:`join_container` for why.

Errors go back to the spawner as one JSON line on the control socket (which is close-on-exec, so
EOF there means ``execve`` worked), with docker's exit code: 127 not found, 126 cannot execute,
125 anything else. :func:`plan` is pure, so the mount logic is unit-tested with the fake syscalls.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import signal
import socket
import stat

from runtime.containers import trace
from runtime.containers.mounts import (
    Bind,
    BindNode,
    CgroupMount,
    Mkdir,
    Mknod,
    Mount,
    Move,
    Overlay,
    Step,
    Symlink,
    open_in_root,
)
from runtime.images.overlay import mount_overlay
from runtime.linux import capabilities
from runtime.linux.syscalls import (
    CLONE_NEWCGROUP,
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWUTS,
    MNT_DETACH,
    MS_BIND,
    MS_MOVE,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    MS_STRICTATIME,
    PR_CAPBSET_DROP,
    PR_SET_DUMPABLE,
    PR_SET_NO_NEW_PRIVS,
    PR_SET_PDEATHSIG,
    TIOCSCTTY,
)
from runtime.rootless import USERNS, mapped
from runtime.security import seccomp

# moby/oci/defaults.go
MASKED = (
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
READONLY = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0))
DEV_LINKS = (
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
)


class StartError(Exception):
    """A start failed in the child; ``code`` is the docker exit code to report."""

    def __init__(self, message: str, code: int = 125) -> None:
        super().__init__(message)
        self.code = code


def namespace_flags(network: str) -> int:
    flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP
    return flags if network == "host" else flags | CLONE_NEWNET


SYSTEM = ("proc", "dev", "sys")  # mounted ahead of time in a stem's staging dir, moved into the rootfs


def system_plan(base: str, readonly: bool = True) -> list[Step]:
    """``/proc``, a tmpfs ``/dev`` with its nodes, devpts and shm, and read-only ``/sys``, mounted under
    ``base`` -- as data (the steps of :mod:`runtime.containers.mounts`). A stem does this before it
    knows its container (none of it depends on the image), then moves the three mounts into the rootfs."""
    at = lambda p: os.path.join(base, p.lstrip("/"))  # noqa: E731
    steps: list[Step] = [
        Mkdir(at("/proc")),
        Mount("proc", at("/proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC),
        Mkdir(at("/dev")),
        Mount("tmpfs", at("/dev"), "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k"),
    ]
    if USERNS:  # rootless: mknod is refused in a user namespace; bind the host's nodes instead
        steps += [BindNode(f"/dev/{name}", at(f"/dev/{name}")) for name, _, _ in DEVICES]
    else:
        steps += [Mknod(at(f"/dev/{name}"), major, minor) for name, major, minor in DEVICES]
    steps += [Symlink(target, at(f"/dev/{name}")) for name, target in DEV_LINKS]
    pts = "newinstance,ptmxmode=0666,mode=0620"
    pts += ",gid=5" if not USERNS or mapped("gid", 5) else ""  # rootless: only a mapped gid
    steps += [
        Mkdir(at("/dev/pts")),
        Mount("devpts", at("/dev/pts"), "devpts", MS_NOSUID | MS_NOEXEC, pts),
        Mkdir(at("/dev/shm")),
        Mount("shm", at("/dev/shm"), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k"),
    ]
    return steps + sysfs_plan(base, readonly)


def sysfs_plan(base: str, readonly: bool = True) -> list[Step]:
    """``/sys``: read-only, except for ``--privileged``."""
    target = os.path.join(base, "sys")
    ro = MS_RDONLY if readonly else 0
    return [Mkdir(target), Mount("sysfs", target, "sysfs", ro | MS_NOSUID | MS_NODEV | MS_NOEXEC)]


def host_cgroup_mounts(mounts_file: str = "/proc/self/mounts") -> list[CgroupMount]:
    """The host's cgroup mounts, ``options`` only what names the hierarchy (its controllers,
    ``name=…``). Read once, in the spawner (module import below)."""
    try:
        with open(mounts_file) as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    try:
        with open("/proc/cgroups") as f:
            known = {line.split()[0] for line in f.read().splitlines()[1:] if line.strip()}
    except OSError:
        known = set()
    found = []
    for line in lines:
        parts = line.split()
        if len(parts) >= 4 and parts[2] in ("cgroup", "cgroup2") and parts[1].startswith("/sys/fs/cgroup"):
            opts = [o for o in parts[3].split(",") if o in known or o.startswith("name=")]
            found.append(CgroupMount(parts[1], parts[2], ",".join(opts) or None))
    return found


CGROUP_MOUNTS = host_cgroup_mounts()
CGROUPFS_FLAGS = MS_NOSUID | MS_NODEV | MS_NOEXEC


def cgroupfs_plan(base: str, mounts: list[CgroupMount] | None = None, readonly: bool = True) -> list[Step]:
    """``/sys/fs/cgroup`` inside, as Docker has it: a tmpfs with each of the host's hierarchies mounted
    read-only below it (or the one cgroup2 mount on a pure v2 host). The stem has joined the
    container's cgroup in every hierarchy and then unshared its cgroup namespace, so each mount shows
    the container's own subtree only. Read-only: a container cannot raise its own limits, freeze
    itself out of ``docker stop``, or ``cgroup.kill`` anything (``--privileged``: writable)."""
    mounts = CGROUP_MOUNTS if mounts is None else mounts
    top = os.path.join(base, "sys/fs/cgroup")
    ro = (MS_RDONLY if readonly else 0) | CGROUPFS_FLAGS
    for path, fstype, options in mounts:  # pure v2 (another hierarchy nested in it is left out)
        if path == "/sys/fs/cgroup":
            return [Mount(fstype, top, fstype, ro, options)]
    steps: list[Step] = [Mount("tmpfs", top, "tmpfs", CGROUPFS_FLAGS, "mode=755,size=64k")]
    for path, fstype, options in mounts:
        target = os.path.join(top, os.path.relpath(path, "/sys/fs/cgroup"))
        steps += [Mkdir(target), Mount(fstype, target, fstype, ro, options)]
    return steps + [Mount(None, top, None, MS_BIND | MS_REMOUNT | ro)]


def plan(cfg: dict, base: str) -> list[Step]:
    """The container's own steps at start: its overlay at ``base/root``, the staged system mounts
    moved in, then ``-v`` bind mounts. Targets are host paths."""
    root = os.path.join(base, "root")
    at = lambda p: os.path.join(root, p.lstrip("/"))  # noqa: E731
    throwaway = bool(cfg.get("auto_remove"))
    steps: list[Step] = [Overlay(cfg["layers"], cfg["upper"], cfg["work"], root, throwaway)]
    for name in SYSTEM:
        steps += [Mkdir(at(name)), Move(os.path.join(base, name), at(name))]
    for vol in cfg.get("volumes", []):
        steps.append(Bind(vol["host"], at(vol["container"]), vol["readonly"]))
    return steps


def mount_rootfs(sys_, layers: list[str], upper: str, work: str, target: str, throwaway: bool) -> None:
    """The image's layers under the container's upper dir. A ``--rm`` container's upper dir is never
    mounted again, so it gets overlayfs' ``volatile`` option: no sync of the upper filesystem when the
    last process exits (about 0.4 ms of every ``run --rm`` here). Otherwise, and if the kernel
    refuses ``volatile``, the image store's :func:`mount_overlay`."""
    user = ",userxattr" if USERNS else ""  # rootless: trusted.* xattrs need host root
    if throwaway:
        try:
            mount_overlay(sys_, layers, upper, work, target, extra_options="volatile" + user)
            return
        except OSError:
            pass  # a kernel before 5.10 refuses it
    mount_overlay(sys_, layers, upper, work, target, extra_options=user[1:])


def _in_root(root: str | None, target: str, kind: str) -> int:
    """An O_PATH fd of ``target`` (a path under ``root``) resolved inside ``root``, made if missing:
    image symlinks and ``..`` never lead to the host (see :mod:`runtime.containers.mounts`)."""
    rel = os.path.relpath(target, root) if root else target
    return open_in_root(root or "/", "/" if rel == "." else "/" + rel, create=kind)


def _bind(sys_, source: str, target: str, readonly: bool, root: str | None = None) -> None:
    if not os.path.exists(source):
        raise StartError(f"invalid mount config: bind source path does not exist: {source}")
    fd = _in_root(root, target, "dir" if os.path.isdir(source) else "file")
    try:
        where = f"/proc/self/fd/{fd}"
        resolved = os.readlink(where)  # the in-root path, symlink-free: for the read-only remount
        sys_.mount(source, where, None, MS_BIND | MS_REC)
        flags = (MS_RDONLY if readonly else 0) | (MS_NODEV if NODEV else 0)
        if flags:
            sys_.mount(None, resolved, None, MS_BIND | MS_REMOUNT | flags)
    finally:
        os.close(fd)


def apply(sys_, steps: list[Step]) -> None:
    root = None  # once the rootfs is mounted, every target below it is resolved inside it
    for step in steps:
        kind = type(step)
        if kind is Overlay:
            mount_rootfs(sys_, *step)
            trace.stamp("overlay")
            root = step.target
            if NODEV:
                sys_.mount(None, root, None, MS_BIND | MS_REMOUNT | MS_NODEV)
        elif kind is Mount:
            sys_.mount(*step)
        elif kind is Move and root:
            fd = _in_root(root, step.target, "dir")
            try:
                sys_.mount(step.source, f"/proc/self/fd/{fd}", None, MS_MOVE)
            finally:
                os.close(fd)
        elif kind is Move:
            sys_.mount(step.source, step.target, None, MS_MOVE)
        elif kind is Mkdir and root:
            os.close(_in_root(root, step.path, "dir"))
        elif kind is Mkdir:
            os.makedirs(step.path, exist_ok=True)
        elif kind is Mknod:
            os.mknod(step.path, 0o666 | stat.S_IFCHR, os.makedev(step.major, step.minor))
            os.chmod(step.path, 0o666)
        elif kind is Symlink:
            os.symlink(step.to, step.path)
        elif kind is BindNode:  # rootless: an empty file with the host's node bound on it
            os.close(os.open(step.target, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o666))
            sys_.mount(step.source, step.target, None, MS_BIND)
        elif kind is Bind:
            _bind(sys_, *step, root=root)
        else:
            raise TypeError(f"not a mount plan step: {step!r}")


def pivot(sys_, root: str) -> None:
    """``pivot_root(".", ".")`` then detach the old root: no put_old directory needed."""
    os.chdir(root)
    sys_.pivot_root(".", ".")
    sys_.umount(".", MNT_DETACH)
    os.chdir("/")


def harden(sys_, base: str = "/", only: tuple[str, ...] = ("/proc", "/sys")) -> None:
    """Docker's masked and read-only paths, on the system mounts staged under ``base`` (they move
    into the rootfs with their submounts)."""
    at = lambda p: os.path.join(base, p.lstrip("/"))  # noqa: E731
    for path in (at(p) for p in MASKED if p.startswith(only)):
        try:
            if os.path.isdir(path):
                sys_.mount("tmpfs", path, "tmpfs", MS_RDONLY, None)
            elif os.path.exists(path):
                sys_.mount("/dev/null", path, None, MS_BIND)
        except OSError:
            pass
    for path in (at(p) for p in READONLY if p.startswith(only)):
        if os.path.exists(path):
            sys_.mount(path, path, None, MS_BIND | MS_REC)
            sys_.mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC)


def _lookup(path: str, key: str, index: int) -> list[str] | None:
    # the container's own file: never a blocking open (a FIFO /etc/passwd froze the engine), capped
    from runtime.linux.safefs import read_file

    try:
        text = read_file(path, 16 << 20).decode(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) > 3 and fields[index] == key:
            return fields
    return None


def resolve_user(user: str) -> tuple[int, int, list[int]]:
    """``uid``, ``name``, ``uid:gid`` or ``name:group`` -> (uid, gid, groups) from the container's files."""
    name, _, group = user.partition(":")
    entry = _lookup("/etc/passwd", name, 0)
    if name.isdigit():
        uid, gid = int(name), int(entry[3]) if entry else 0
    elif entry:
        uid, gid = int(entry[2]), int(entry[3])
    else:
        raise StartError(f"unable to find user {name}: no matching entries in passwd file", 126)
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            g = _lookup("/etc/group", group, 0)
            if not g:
                raise StartError(f"unable to find group {group}: no matching entries in group file", 126)
            gid = int(g[2])
    return uid, gid, [gid]


def rearm_death_signal(sys_, ctl, parent: int, sig: int = signal.SIGKILL) -> None:
    """Set the parent-death signal for the last time before ``execve``, then make sure the spawner
    did not die before that: the parent pid changed, or the spawner's end of ``ctl`` hung up. (A stem
    is PID 1 of its PID namespace, where ``getppid()`` is 0 either way, so the socket is the check
    that counts.)

    ``SIGKILL`` for what must die with the spawner: an ``exec``'d process and a ``-t`` container, whose
    stdio is the spawner's (a pipe or a pty master); set again because ``setuid``/``setgid`` clear it.
    ``0`` for a container that outlives it (live restore, :mod:`runtime.containers.keeper`): its
    output goes to FIFOs that need nobody. Dropped only now, so a stem that has not exec'd still dies
    with the spawner; the check that follows catches a spawner that died just before."""
    sys_.prctl(PR_SET_PDEATHSIG, sig)
    hung_up = False
    if ctl is not None:
        import select

        poll = select.poll()
        poll.register(ctl, select.POLLHUP)
        hung_up = any(ev & (select.POLLHUP | select.POLLERR) for _, ev in poll.poll(0))
    if hung_up or os.getppid() != parent:
        os._exit(125)


def privileged(process: dict) -> bool:
    return bool((process.get("security") or {}).get("privileged"))


def finish_and_exec(sys_, process: dict, prepared: bool = False, ctl=None, survive: bool = False) -> None:
    """Drop privileges the way docker does and ``execve``. Never returns. ``survive``: the process
    outlives the spawner (see :func:`rearm_death_signal`)."""
    parent = os.getppid()
    if privileged(process):
        keep = capabilities.permitted()  # every capability the engine has: --privileged
    else:
        keep = drop_bounding_set(sys_) if prepared is False else kept_capabilities()
    uid, gid, groups = resolve_user(process["user"]) if process.get("user") else (0, 0, [0])
    try:
        try:
            os.setgroups(groups)
        except PermissionError:
            if not USERNS:  # rootless with one gid mapped: the kernel denies setgroups
                raise
        os.setgid(gid)
        os.setuid(uid)
        if uid == 0:
            sys_.capset(keep, keep, 0)
        if not prepared:
            sys_.prctl(PR_SET_NO_NEW_PRIVS, 1)
    except OSError as e:
        raise StartError(f"container init failed: setting user {uid}:{gid}: {e}") from None
    cwd = process.get("cwd") or "/"
    try:
        os.makedirs(cwd, exist_ok=True)
        os.chdir(cwd)
    except OSError as e:
        raise StartError(f'chdir to cwd ("{cwd}") set in config.json failed: {e.strerror}', 126) from None
    env = dict(item.partition("=")[::2] for item in process["env"])
    for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    args = process["args"]
    confine(sys_, process.get("security"))
    rearm_death_signal(sys_, ctl, parent, 0 if survive else signal.SIGKILL)
    trace.stamp("exec")
    trace.send(ctl)  # the start's trace (runtime.containers.trace): one message, then execve
    try:
        os.execvpe(args[0], args, env)
    except FileNotFoundError:
        where = "no such file or directory" if "/" in args[0] else "executable file not found in $PATH"
        raise StartError(f'exec: "{args[0]}": {where}', 127) from None
    except PermissionError:
        raise StartError(f'exec: "{args[0]}": permission denied', 126) from None
    except OSError as e:
        raise StartError(f'exec: "{args[0]}": {e.strerror}', 126) from None


def confine(sys_, security: dict | None) -> None:
    """The container's seccomp filter, last thing before ``execve`` (it must allow ``execve`` and what
    :func:`rearm_death_signal` needs, which Docker's profile does). Docker's default is compiled once
    in the spawner (below, at import), so the common case costs one ``seccomp(2)`` call."""
    try:
        prog = seccomp.filter_for(security)
        if prog is not None:
            sys_.seccomp(prog)
    except (OSError, ValueError) as e:
        raise StartError(f"container init failed: loading the seccomp filter: {e}") from None


FIFOS = ("stdout.fifo", "stderr.fifo")
"""A container's stdout and stderr, in its (root-only) directory: see :func:`open_fifos`."""
FIFO_SIZE = int(os.environ.get("VMVC_FIFO_SIZE", 0))
"""Bytes each FIFO buffers (``F_SETPIPE_SZ``; 0: the kernel's 64 KiB). Only needed while no spawner
reads them, and every byte of it counts against root's pipe budget (``/proc/sys/fs/pipe-user-pages-soft``,
64 MiB), past which every pipe root's processes make gets a single page: at 1 MiB per FIFO that would
happen with 32 containers running, so the default stays what the pipes it replaces had."""
F_SETPIPE_SZ = 1031


def open_fifos(paths: list[str]) -> list[int]:
    """The container's stdout and stderr: FIFOs opened ``O_RDWR`` (made if missing), so they always
    have a reader -- the container itself -- and a write never fails: with no spawner reading, it
    blocks once the buffer is full, as under docker's blocking log mode. The spawner (and the next
    one) opens them ``O_RDONLY`` by path; no process has to hold them for the container to survive.
    Opened before ``pivot_root``: they are host paths."""
    fds = []
    for path in paths:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
        except FileNotFoundError:
            os.mkfifo(path, 0o600)
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
        fds.append(fd)
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            raise StartError(f"container init failed: {path} is not a FIFO")
        if FIFO_SIZE:
            try:
                fcntl.fcntl(fd, F_SETPIPE_SZ, FIFO_SIZE)
            except OSError:
                pass  # past the user's pipe budget: the default size
    return fds


def stdio(stdin: int | None, stdout: int, stderr: int) -> None:
    """Install the container's stdio (``None`` stdin: the container's ``/dev/null``)."""
    if stdin is None:
        stdin = os.open("/dev/null", os.O_RDONLY)
    for want, fd in ((0, stdin), (1, stdout), (2, stderr)):
        if fd != want:
            os.dup2(fd, want)


def tty_stdio(ctl) -> None:
    """A pty from the container's own devpts; its master goes to the spawner over ``ctl``."""
    master, slave = os.openpty()
    socket.send_fds(ctl, [b"P"], [master])
    os.close(master)
    os.setsid()
    fcntl.ioctl(slave, TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    if slave > 2:
        os.close(slave)


def report(ctl, error: StartError) -> None:
    try:
        ctl.sendall(json.dumps({"error": str(error), "code": error.code}).encode() + b"\n")
    except OSError:
        pass


PRIVILEGED = False
"""Whether :func:`prepare` made this stem for a ``--privileged`` container (kept every capability)."""

NODEV: bool | None = None
"""Whether this container's mounts get ``nodev`` and its bounding set loses CAP_MKNOD: when no
devices cgroup checks device access (cgroup v2 without a device program). Decided by
:func:`drop_bounding_set` once the process is in its cgroup; see :mod:`runtime.cgroups.devices`."""


def kept_capabilities() -> int:
    """Docker's default capability mask, less CAP_MKNOD when :data:`NODEV`."""
    keep = capabilities.mask(capabilities.DOCKER_DEFAULT)
    return keep & ~capabilities.mask(["mknod"]) if NODEV else keep


def drop_bounding_set(sys_) -> int:
    """Docker's default capabilities only, from now on for every exec (the effective set is kept
    until ``execve``, so the mounts that follow still work). Returns the kept mask. Without a
    devices cgroup CAP_MKNOD goes too (:data:`NODEV`)."""
    global NODEV
    from runtime.cgroups.devices import available

    NODEV = not available()
    keep = kept_capabilities()
    for cap in capabilities.to_drop(keep, capabilities.last_cap()):
        sys_.prctl(PR_CAPBSET_DROP, cap)
    return keep


def prepare(sys_, staging: str, privileged: bool = False) -> None:
    """What every container needs, done by a stem *before* it is asked to become one: new mount,
    UTS, IPC, cgroup and network namespaces, ``/`` rprivate, ``lo`` up, the capability bounding set
    reduced, ``no_new_privs``, and the system mounts (``/proc``, ``/dev``, ``/sys``, masked and
    read-only paths) staged on a private tmpfs at ``staging``. (The cgroup is joined before this, so
    the cgroup namespace is rooted at the container's cgroup; the stem is PID 1 of its PID namespace,
    so its ``/proc`` is the container's.)

    A ``privileged`` stem (``--privileged``, forked on demand) keeps every capability in its
    bounding set, masks nothing and mounts ``/sys`` and ``/sys/fs/cgroup`` writable: Docker's
    ``--privileged``, less the host's ``/dev`` nodes (its devices cgroup allows every device, so
    ``mknod`` makes any of them) and with ``no_new_privs`` still set."""
    global NODEV, PRIVILEGED
    PRIVILEGED = privileged
    sys_.unshare(namespace_flags("private"))
    sys_.mount(None, "/", None, MS_REC | MS_PRIVATE)
    sys_.link_up("lo")
    if privileged:
        NODEV = False
    else:
        drop_bounding_set(sys_)
    sys_.prctl(PR_SET_NO_NEW_PRIVS, 1)
    sys_.mount("tmpfs", staging, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=64k")
    os.mkdir(os.path.join(staging, "root"))
    apply(sys_, system_plan(staging, readonly=not privileged))
    if not privileged:
        harden(sys_, staging)
    apply(sys_, cgroupfs_plan(staging, readonly=not privileged))
    if not privileged:
        seccomp.default_filter().warm()  # the start then pays only the kernel's part of installing it


def start_container(
    sys_, ctl, cfg: dict, stdin: int | None, stdout: int, stderr: int, host_netns: int | None = None
) -> None:
    """From a prepared stem to ``execve``; raises :class:`StartError`. ``cfg["rootfs"]`` is the staging
    dir :func:`prepare` used; ``host_netns`` an fd of the host's network namespace, joined back for
    ``--network host`` (whose ``/sys`` is then mounted afresh, to show the host's interfaces)."""
    base = cfg["rootfs"]
    if privileged(cfg["process"]) and not PRIVILEGED:
        raise StartError("--privileged needs a privileged stem; this one dropped its capabilities")
    survive = not cfg.get("tty")  # a -t container's pty master is the spawner's: it dies with it
    try:
        if survive and cfg.get("fifos"):
            stdout, stderr = open_fifos(cfg["fifos"])
        if cfg["network"] == "host":
            rw = privileged(cfg["process"])
            sys_.setns(host_netns, CLONE_NEWNET)
            sys_.umount(os.path.join(base, "sys"), MNT_DETACH)
            apply(sys_, sysfs_plan(base, readonly=not rw))
            if not rw:
                harden(sys_, base, only=("/sys",))
            apply(sys_, cgroupfs_plan(base, readonly=not rw))
        apply(sys_, plan(cfg, base))
        trace.stamp("mounts")
        pivot(sys_, os.path.join(base, "root"))
        trace.stamp("pivot_root")
        sys_.sethostname(cfg["hostname"])
    except StartError:
        raise
    except OSError as e:
        raise StartError(f"container init failed: {e}") from None
    io_and_exec(sys_, ctl, cfg, stdin, stdout, stderr, prepared=True, survive=survive)


def io_and_exec(
    sys_, ctl, cfg: dict, stdin, stdout: int, stderr: int, prepared: bool, survive: bool = False
) -> None:
    """The last steps of both a start and an exec: stdio (pipes, FIFOs or a pty), privileges, ``execve``."""
    try:
        if cfg.get("tty"):
            tty_stdio(ctl)
        else:
            stdio(stdin if cfg.get("stdin") else None, stdout, stderr)
    except OSError as e:
        what = "a terminal" if cfg.get("tty") else "stdio"
        raise StartError(f"container init failed: setting up {what}: {e}") from None
    finish_and_exec(sys_, cfg["process"], prepared=prepared, ctl=ctl, survive=survive)


def join_container(
    sys_,
    ctl,
    target_pidfd: int,
    cfg: dict,
    procs_files: list[str],
    stdin: int | None,
    stdout: int,
    stderr: int,
) -> None:
    """``exec``: join the container's cgroup and namespaces (one ``setns`` on its pidfd), then exec.

    Hardened as runc is since CVE-2019-5736. From ``setns`` on, this process is inside the container
    (its PID namespace: the container sees it in ``/proc``), yet until ``execve`` it is a copy of the
    spawner: its memory holds the spawner's heap (other containers' configs and environments) and the
    host's environment, and ``/proc/<pid>/exe`` is the host's Python. So:

    * it is non-dumpable from its first instruction (:func:`child_prologue`): the kernel then refuses
      ``ptrace``, ``/proc/<pid>/mem``, ``environ``, ``exe``, ``fd/``, ``map_files`` to anyone without
      CAP_SYS_PTRACE (which containers do not get), so neither the heap nor the host's Python binary
      can be read or opened for writing through it. ``execve`` makes it dumpable again, with a fresh
      image: nothing of the spawner survives it;
    * every fd but its stdio, the control socket (close-on-exec) and the container's pidfd is closed
      first thing (:func:`child_prologue`); those two are close-on-exec;
    * ``execve`` gets the container's environment only (``process["env"]`` plus ``-e``), never the
      spawner's;
    * it gets the container's capabilities, ``no_new_privs`` and the same seccomp filter
      (``process["security"]``; Docker's default when the request does not say).

    Why not re-exec a small helper first (as runc re-execs a sealed memfd copy of itself)? The only
    image this child ever ``execve``s is the container's own program, resolved inside the container's
    mount namespace: no host binary is ever the target, so there is nothing to overwrite, and the
    window before ``execve`` is closed by non-dumpability. A helper image would cost a second
    ``execve`` (~1 ms) per ``exec`` for no added protection."""
    try:
        for path in procs_files:
            with open(path, "w") as f:
                f.write("0")
        sys_.setns(target_pidfd, namespace_flags(cfg["network"]))
    except OSError as e:
        raise StartError(f"exec: cannot join the container: {e}") from None
    io_and_exec(sys_, ctl, cfg, stdin, stdout, stderr, prepared=False)


def child_prologue(sys_, keep: list[int]) -> None:
    """First thing after fork: die with the spawner (a container stops doing so only right before
    its ``execve``), close every fd the child does not need."""
    sys_.prctl(PR_SET_DUMPABLE, 0)  # before anything else: no ptrace or /proc/<pid>/mem of a spawner copy
    sys_.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    keep_fds(keep)


def keep_fds(keep: list[int]) -> None:
    low = 3
    for fd in sorted(set(k for k in keep if k is not None and k >= 3)):
        if fd > low:
            os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 20)


def errno_name(e: OSError) -> str:
    return errno.errorcode.get(e.errno or 0, str(e.errno))


seccomp.default_filter()  # compiled once, in the spawner, which imports this module before forking stems
