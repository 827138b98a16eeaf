"""After a spawner died: make the disk agree with the kernel again.

Run by a new spawner while it holds the state root's lock, so no other spawner is alive. Containers
recorded as running died with their spawner (``PR_SET_PDEATHSIG``); anything still alive in their
cgroup is killed. Their cgroups are removed (with every other cgroup of this state root that no
live container owns, such as a dead spawner's stem), they are marked exited, and ``--rm`` ones are
deleted. Overlay mounts lived only in the containers' own mount namespaces, so they are gone.

Recovery always completes: each step that fails (a directory that cannot be deleted, a cgroup that
will not go) is one line on stderr and the rest goes on, since a spawner whose recovery raises cannot
start at all (a container's deep tree once made every restart fail until it was removed by hand).
Damaged records are quarantined by :meth:`Containers.all` on the way.
"""

from __future__ import annotations

import fcntl
import os
import sys

from runtime.containers.janitor import purge as _purge_now
from runtime.containers.state import EXITED, RUNNING, Containers, now


def recover_if_orphaned(table: Containers) -> bool:
    """If no spawner holds this root's lock, recover now (under the lock); True if it did.

    Lets ``ps``/``inspect`` after a crash show the truth without starting a spawner.
    """
    fd = os.open(table.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a live spawner owns the root
        from runtime import cgroups

        recover(table, cgroups.manager(), purge=None)  # directories: the next spawner's janitor
        return True
    finally:
        os.close(fd)


def recover(table: Containers, cg, purge=_purge_now) -> list[str]:
    """Returns the ids of the containers it marked exited. ``purge(path)`` deletes what dead
    containers left (``.rm-*``, ``.slot-*``): the spawner passes its janitor's, so a huge tree is
    deleted in the background instead of delaying the start; None leaves them for the next spawner
    (a ``ps`` that recovers after a crash must not take minutes)."""
    from runtime import paths

    _step("permissions", paths.secure, os.path.dirname(table.root.rstrip("/")))
    fixed = []
    for rec in table.all():
        if rec.status != RUNNING:
            continue
        if _step(f"container {rec.id[:12]}", _mark_exited, table, cg, rec, purge):
            fixed.append(rec.id)
    _step("names", table.release_stale_names)
    for name in _step("listing cgroups", cg.names, table.cgroup_prefix()) or []:
        _step(f"cgroup {name}", cg.remove, name)
    try:
        leftovers = os.listdir(table.root)
    except OSError:
        leftovers = []
    for leftover in leftovers:
        if purge is not None and leftover.startswith((".rm-", ".slot-")):
            purge(os.path.join(table.root, leftover))
    return fixed


def _mark_exited(table: Containers, cg, rec, purge) -> bool:
    cgroup = rec.state.get("cgroup")
    oom = False
    if cgroup:
        oom = _step(f"cgroup {cgroup}", cg.oom_killed, cgroup) or False
        _step(f"cgroup {cgroup}", cg.remove, cgroup)
    table.write_state(
        rec.id,
        {
            **rec.state,
            "status": EXITED,
            "pid": 0,
            "exit_code": 137 if oom else 255,
            "oom_killed": oom,
            "finished_at": now(),
            "error": "the engine stopped while the container was running",
        },
        durable=True,
    )
    if rec.config.get("auto_remove"):
        trash = table.forget(rec.id)
        if trash and purge is not None:
            purge(trash)
    return True


def _step(what: str, fn, *args):
    """``fn(*args)``, or None with one line on stderr: one broken thing never stops recovery."""
    try:
        return fn(*args)
    except Exception as e:
        print(f"vmvc: recovery: {what}: {e}", file=sys.stderr, flush=True)
        return None
