"""Rootless mode: containers for a user without root, as rootless Docker and Podman run them.

Why it works at all. A user namespace makes its creator "root" over what the namespace owns: new
mount, PID, UTS, IPC, network and cgroup namespaces made inside it, and the mounts in them (tmpfs,
proc, sysfs of its own network namespace, devpts, overlayfs since Linux 5.11). It gives no power
over anything the user could not touch before: files of other host users stay theirs (an inode
owned by an unmapped id shows as ``nobody`` and root inside gets no override on it), ``mknod`` of
real devices is refused, cgroups owned by host root stay read-only.

How vmvc uses it. When the CLI is not root, the client starts the state root's spawner inside a
new user *and PID* namespace (:mod:`.launch`): root in it is the user, plus the user's
subordinate range from ``/etc/subuid``/``/etc/subgid`` through the setuid ``newuidmap``/``newgidmap``
(:mod:`.idmap`), or, without a range, the user's own id alone. The root's keeper is PID 1 of that
PID namespace (:mod:`runtime.containers.keeper`: killing it ends the user's containers) and the
spawner its child, so the spawner may ``setns`` back into it after forking each stem into a PID
namespace of its own, exactly as a root spawner does; everything else in the spawner, the stems
and ``init`` is the root code path with these differences, each decided by :data:`USERNS`:

* ``/dev`` nodes are bind mounts of the host's (``mknod`` is refused in a user namespace);
* devpts gets ``gid=5`` only when group 5 is mapped;
* the overlay is mounted with ``userxattr`` (``trusted.*`` xattrs need host root);
* no cgroups: the limit flags fail with one line, unless a delegated cgroup v2 subtree exists
  (:mod:`.cgroups`); ``--network host`` fails with one line (the host's network namespace is owned
  by the host's user namespace, which this one cannot enter);
* process ids: the spawner's own, as it reports it, and each container's (``host_pid`` in its state
  record) are also given as the host sees them (:func:`host_pid`).

Seccomp, the capability bounding set and ``no_new_privs`` apply unchanged, now within the user
namespace. The state root is ``$XDG_DATA_HOME/vmvc`` or ``~/.local/share/vmvc`` (:mod:`runtime.paths`).

Nothing here runs on a root start: :data:`USERNS` is read once per process from
``/proc/self/uid_map``.
"""

from __future__ import annotations

import os

from runtime.errors import VmvcError

INITIAL_MAP = ["0", "0", "4294967295"]


def _in_user_namespace() -> bool:
    """Whether this process is in a user namespace other than the host's (its uid map is not the
    identity over every id)."""
    try:
        with open("/proc/self/uid_map") as f:
            return f.read().split() != INITIAL_MAP
    except OSError:
        return False


USERNS = _in_user_namespace()
"""True in a rootless spawner and everything it forks (read once, at import)."""


def mapped(kind: str, ident: int) -> bool:
    """Whether id ``ident`` of ``kind`` ("uid" or "gid") is mapped in this process's user namespace."""
    try:
        with open(f"/proc/self/{kind}_map") as f:
            rows = [line.split() for line in f]
    except OSError:
        return False
    return any(len(r) == 3 and int(r[0]) <= ident < int(r[0]) + int(r[2]) for r in rows)


def host_pid(pid: int, pidfd: int | None = None) -> int:
    """``pid`` as the host sees it. The rootless spawner has a PID namespace of its own; the
    host's ``/proc`` (which it still has mounted) names processes by their host ids: its own through
    ``/proc/self``, a child's in the ``Pid:`` line of its pidfd's fdinfo."""
    if not USERNS:
        return pid
    try:
        if pidfd is None:
            return int(os.readlink("/proc/self")) if pid == os.getpid() else pid
        with open(f"/proc/self/fdinfo/{pidfd}") as f:
            for line in f:
                if line.startswith("Pid:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return pid


def host_pid_field(pid: int, pidfd: int) -> dict:
    """``{"host_pid": …}`` for a rootless container's state record, ``{}`` otherwise. Its ``pid``
    stays the spawner's view (what the spawner and the keeper act on); clients outside read
    ``/proc`` by the host's."""
    return {"host_pid": host_pid(pid, pidfd)} if USERNS else {}


def refuse_unsupported(memory, cpus, pids, network: str) -> None:
    """One clear error (exit 125) for what a rootless container cannot have on this host: resource
    limits without a delegated cgroup v2 subtree, ``--network host``. Called by ``create`` only when
    one of them is asked for, so an ordinary start pays nothing."""
    if not USERNS:
        return
    flags = [f for f, v in (("--memory", memory), ("--cpus", cpus), ("--pids-limit", pids)) if v]
    if flags:
        from runtime.rootless.cgroups import delegation

        where = delegation()
        raise VmvcError(
            f"rootless mode: {', '.join(flags)} need a cgroup the user may write, and {where['why']}; "
            "run without limits, or as root", exit_code=125)
    if network == "host":
        raise VmvcError("rootless mode: --network host is not possible (the host's network namespace "
                        "belongs to the host's root); use the default network, or run as root",
                        exit_code=125)
