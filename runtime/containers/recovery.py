"""After a spawner died: adopt the containers that outlived it, make the disk agree with the kernel.

Run by a new spawner while it holds the state root's lock, so no other spawner is alive (or by a CLI
command that finds no spawner: :func:`recover_if_orphaned`). Containers survive their spawner (live
restore, see :mod:`runtime.containers.spawner` and :mod:`runtime.containers.keeper`), so for each
record still "running":

* the process is still there -- ``pidfd_open(pid)``, then its start time in ``/proc/PID/stat`` equals
  the one recorded at start (otherwise the pid was reused by an unrelated process, which is left
  alone) and it is still in the recorded cgroup: the spawner *adopts* it (``adopt(record, pidfd,
  start)``, :meth:`Supervisor.adopt <runtime.containers.spawner.supervise.Supervisor.adopt>`) and it
  stays running; a CLI command leaves it running and starts a spawner to adopt it;
* it is gone: it is marked exited with the code the keeper recorded when it reaped it
  (``exits/<pid>-<start>``), or 255 if none did (no keeper, or a record from before live restore),
  137 if its cgroup says the OOM killer struck; anything left in its cgroup is killed; ``--rm`` ones
  are deleted.

Every other cgroup of this state root (a dead spawner's stem, a start the spawner died in before it
recorded it) is removed, killing what is inside; overlay mounts lived only in the containers' own
mount namespaces, so a gone container's are gone too; the keeper's files nobody needs are deleted.

Recovery always completes: each step that fails (a directory that cannot be deleted, a cgroup that
will not go) is one line on stderr and the rest goes on, since a spawner whose recovery raises cannot
start at all (a container's deep tree once made every restart fail until it was removed by hand).
Damaged records are quarantined by :meth:`Containers.all` on the way.
"""

from __future__ import annotations

import fcntl
import os
import sys

from runtime.containers import keeper
from runtime.containers.janitor import purge as _purge_now
from runtime.containers.state import EXITED, RUNNING, Containers, now

LOST = "the engine stopped while the container was running"
TTY_LOST = ("the engine stopped while the container was running; a -t container's terminal belongs to "
            "the engine, so it stopped too")


def recover_if_orphaned(table: Containers) -> bool:
    """If no spawner holds this root's lock, recover now (under the lock); True if it did.

    Lets ``ps``/``inspect`` after a crash show the truth without waiting for a spawner; if containers
    outlived the spawner, one is started to adopt them (their output and exits need it).
    """
    fd = os.open(table.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    live: list[str] = []
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a live spawner owns the root
        recover(table, _manager(), purge=None, live=live)  # directories: the next spawner's janitor
    finally:
        os.close(fd)
    if live:
        from runtime.containers.client import SpawnerClient

        _step("starting a spawner to adopt the running containers", SpawnerClient(table).launch)
    return True


def _manager():
    """The cgroups the root's spawner uses: a rootless one (any user but root) has none, so a CLI
    command recovering for it must not look for its containers' cgroups in the host's."""
    if os.geteuid() != 0:
        from runtime.rootless.cgroups import NoLimits

        return NoLimits()
    from runtime import cgroups

    return cgroups.manager()


def recover(table: Containers, cg, purge=_purge_now, adopt=None, live: list[str] | None = None) -> list[str]:
    """Returns the ids of the containers it marked exited; ``live`` collects those still running,
    each given to ``adopt(record, pidfd, start)`` (which then owns the pidfd) if the caller can
    supervise them. ``purge(path)`` deletes what dead containers left (``.rm-*``, ``.slot-*``): the
    spawner passes its janitor's, so a huge tree is deleted in the background instead of delaying the
    start; None leaves them for the next spawner (a ``ps`` that recovers after a crash must not take
    minutes)."""
    from runtime import paths

    _step("permissions", paths.secure, os.path.dirname(table.root.rstrip("/")))
    fixed = []
    live = [] if live is None else live
    kept_cgroups, kept_exits = set(), set()
    for rec in table.all():
        if rec.status != RUNNING:
            continue
        found = _step(f"container {rec.id[:12]}", identify, rec, cg.backend != "none")
        if found:
            pidfd, start = found
            live.append(rec.id)
            kept_cgroups.add(rec.state.get("cgroup"))
            kept_exits.add(f"{rec.state['pid']}-{start}")
            if adopt is None:
                os.close(pidfd)
            else:
                _step(f"adopting {rec.id[:12]}", adopt, rec, pidfd, start)
            continue
        if _step(f"container {rec.id[:12]}", _mark_exited, table, cg, rec, purge):
            fixed.append(rec.id)
    _step("names", table.release_stale_names)
    for name in _step("listing cgroups", cg.names, table.cgroup_prefix()) or []:
        if name not in kept_cgroups:
            _step(f"cgroup {name}", cg.remove, name)
    exits = os.path.join(table.root, keeper.EXITS)
    for name in _listdir(exits):
        if name not in kept_exits:  # a stem's or janitor's, or read already
            _step("keeper's exit files", os.unlink, os.path.join(exits, name))
    for leftover in _listdir(table.root):
        if purge is not None and leftover.startswith((".rm-", ".slot-")):
            purge(os.path.join(table.root, leftover))
    return fixed


def identify(rec, cgroups: bool = True) -> tuple[int, int] | None:
    """(pidfd, start time) of the record's process if it is still the one that was started -- alive,
    or dead and not yet reaped -- else None. The pidfd is opened first, so the process it refers to
    is the one whose start time and cgroup are then checked. ``cgroups`` False: the spawner makes
    none (rootless mode), so the start time alone tells the container.

    Pids: a rootless record's ``pid`` is of its spawner's PID namespace and ``host_pid`` the host's.
    A rootless spawner opens the former (its own namespace) and reads ``/proc`` by the host pid the
    pidfd names; a CLI command (the host's PID namespace) opens the host pid directly."""
    from runtime.rootless import USERNS, host_pid

    pid, start, cgroup = rec.state.get("pid"), rec.state.get("pid_start"), rec.state.get("cgroup")
    if not USERNS and rec.state.get("host_pid"):
        pid = rec.state["host_pid"]
    if not pid or not start:
        return None  # recorded before live restore: nothing to tell a reused pid by
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return None
    seen = host_pid(pid, pidfd)  # as /proc names it (rootless mode's spawner has a PID namespace)
    st = keeper.proc_stat(seen)
    in_cgroup = not cgroups or not cgroup or _in_cgroup(seen, cgroup)
    if st is not None and st[1] == start and (st[0] in "ZX" or in_cgroup):
        return pidfd, start
    os.close(pidfd)
    return None


def _in_cgroup(pid: int, cgroup: str) -> bool:
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            paths = [line.split(":", 2)[-1].strip() for line in f]
    except OSError:
        return False
    return any(p == "/" + cgroup or p.startswith(f"/{cgroup}/") for p in paths)


def _mark_exited(table: Containers, cg, rec, purge) -> bool:
    cgroup = rec.state.get("cgroup")
    oom = False
    if cgroup:
        oom = _step(f"cgroup {cgroup}", cg.oom_killed, cgroup) or False
        _step(f"cgroup {cgroup}", cg.remove, cgroup)
    pid, start = rec.state.get("pid"), rec.state.get("pid_start")
    kept = keeper.take_status(table.root, pid, start) if pid and start else None
    code, finished = kept if kept else (None, None)
    if oom:
        error, code = "", 137
    elif rec.config.get("tty"):
        error, code = TTY_LOST, 255 if code is None else code
    elif code is None:
        error, code = LOST, 255
    else:
        error = ""  # it exited by itself while no spawner was there: the keeper kept its code
    table.write_state(
        rec.id,
        {
            **rec.state,
            "status": EXITED,
            "pid": 0,
            "exit_code": code,
            "oom_killed": oom,
            "finished_at": now(finished),
            "error": error,
        },
        durable=True,
    )
    if rec.config.get("auto_remove"):
        trash = table.forget(rec.id)
        if trash and purge is not None:
            purge(trash)
    return True


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def _step(what: str, fn, *args):
    """``fn(*args)``, or None with one line on stderr: one broken thing never stops recovery."""
    try:
        return fn(*args)
    except Exception as e:
        print(f"vmvc: recovery: {what}: {e}", file=sys.stderr, flush=True)
        return None
