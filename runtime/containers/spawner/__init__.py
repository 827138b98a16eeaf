"""The spawner: one small, single-threaded, pre-imported process that forks every container.

Why it exists. Forking a multi-threaded daemon is unsafe, and starting a Python interpreter per
container costs 10–70 ms. The spawner is started once per state root (by the first client that
needs it), imports everything a start needs, and then serves requests on a unix socket with a
``selectors`` loop: start, attach, wait, stop, kill, exec, shutdown. It is also each container's
monitor: it pumps output into the json-file log and to attached clients, reaps exits, records exit
codes and ``OOMKilled``, removes cgroups and ``--rm`` containers. Per running container it keeps a
few fds and a small object, nothing else (no shim process).

Why a start is fast. Everything that does not depend on the container is done before it is asked
for, off the critical path:

* a *stem* waits ready: a child forked in advance, born as PID 1 of a fresh PID namespace (the
  spawner ``unshare(CLONE_NEWPID)``s, forks, and ``setns``es back), already moved into a fresh
  cgroup, already in new mount/UTS/IPC/net/cgroup namespaces with ``lo`` up, capabilities bounded,
  ``no_new_privs`` set, and ``/proc``, ``/dev`` (nodes, devpts, shm) and read-only ``/sys`` with
  Docker's masked paths mounted on a private staging tmpfs. Moving a process into a cgroup takes the
  kernel's cgroup threadgroup rwsem for writing, which waits for an RCU grace period when the host
  was idle (5-20 ms here): the stem pays that before anyone waits for it;
* a *slot* waits ready: a container directory with an id, work dir and ``/etc/hostname``/``hosts``;
* the image store, JSON, ctypes and every module a start needs are imported once.

A ``run`` then costs: rename the slot into place and write ``config.json``; write the limits; send
the config to the stem, which mounts the overlay, moves the staged mounts in, ``pivot_root``s and
``execve``s; meanwhile (on the other CPU) the spawner records the container as running. The
container's exit arrives on a pidfd; output is pumped by this one loop; there is no interpreter
start and no per-container helper process.

Housekeeping waits until the caller has its answer. Forking the next stem costs the spawner
~1-2.5 ms; for a lone start it is done when the container has exited or 5 ms after the reply,
whichever is first (a ``run --rm /bin/true`` then gets its exit code that much sooner); within a
burst of starts (< 30 ms apart) it is forked during the start, so the next one finds it ready.
Removing cgroups (an RCU grace period each, 10-16 ms) and ``--rm`` directories is the janitor's
job (:mod:`runtime.containers.janitor`), a child process, so it never blocks this loop.

If the spawner dies, every container dies with it (``PR_SET_PDEATHSIG``): the next spawner takes
the lock, finds containers recorded as running, removes their cgroups and marks them exited
(:mod:`runtime.containers.recovery`).

The package has one concept per module, in the order a request meets them:

* :mod:`.daemon` -- the spawner's life: the root's lock, recovery, the socket, idle work, shutdown;
* :mod:`.loop` -- the event loop (a ``selectors`` selector), one-shot timers and idle work;
* :mod:`.conn` -- one client connection, non-blocking in both directions;
* :mod:`.ops` -- the requests: create, start, run, attach, wait, kill, stop, exec, ping, shutdown;
* :mod:`.stems` -- the stem pool: a stem and a slot made ahead, and how children are forked;
* :mod:`.supervise` -- output and exit supervision, the one helper ``start`` and ``exec`` end in.

Signal names and docker's exit codes are in :mod:`runtime.containers.signals`.
"""

from runtime.containers.signals import exit_code, signal_number
from runtime.containers.spawner.daemon import IDLE_EXIT_SECONDS, TRACE, Spawner, main
from runtime.containers.spawner.ops import BURST_WINDOW, REFILL_DELAY
from runtime.containers.spawner.stems import STEM_READY_TIMEOUT, Stem, StemPool
from runtime.containers.spawner.supervise import Proc, Supervisor

__all__ = [
    "BURST_WINDOW",
    "IDLE_EXIT_SECONDS",
    "REFILL_DELAY",
    "STEM_READY_TIMEOUT",
    "TRACE",
    "Proc",
    "Spawner",
    "Stem",
    "StemPool",
    "Supervisor",
    "exit_code",
    "main",
    "signal_number",
]
