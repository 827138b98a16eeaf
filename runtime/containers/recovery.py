"""After a spawner died: make the disk agree with the kernel again.

Run by a new spawner while it holds the state root's lock, so no other spawner is alive. Containers
recorded as running died with their spawner (``PR_SET_PDEATHSIG``); anything still alive in their
cgroup is killed. Their cgroups are removed (with every other cgroup of this state root that no
live container owns, such as a dead spawner's stem), they are marked exited, and ``--rm`` ones are
deleted. Overlay mounts lived only in the containers' own mount namespaces, so they are gone.
"""

from __future__ import annotations

import fcntl
import os
import shutil

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

        recover(table, cgroups.manager())
        return True
    finally:
        os.close(fd)


def recover(table: Containers, cg) -> list[str]:
    """Returns the ids of the containers it marked exited."""
    fixed = []
    for rec in table.all():
        if rec.status != RUNNING:
            continue
        cgroup = rec.state.get("cgroup")
        oom = False
        if cgroup:
            oom = cg.oom_killed(cgroup)
            cg.remove(cgroup)
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
        )
        fixed.append(rec.id)
        if rec.config.get("auto_remove"):
            table.delete(rec.id)
    for name in cg.names(table.cgroup_prefix()):
        cg.remove(name)
    for leftover in os.listdir(table.root):
        if leftover.startswith((".rm-", ".slot-")):
            shutil.rmtree(os.path.join(table.root, leftover), ignore_errors=True)
    return fixed
