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

A stuck child costs nobody else anything: a stem's readiness, a start's or exec's report, stdin
and exits are events of the one loop, each with a timeout (:mod:`.supervise`); output is read in
turns and within a budget, so a flooding container neither takes the spawner's CPU nor delays
other starts; every start is traced step by step at no measurable cost (:mod:`runtime.containers.trace`).

If the spawner dies, every container dies with it (``PR_SET_PDEATHSIG``): the next spawner takes
the lock, finds containers recorded as running, removes their cgroups and marks them exited
(:mod:`runtime.containers.recovery`).

Live restore (designed, not built yet; issue 10). As dockerd's ``live-restore``, running containers
and their output should survive the spawner's death and be adopted by the next one -- without a
shim per container, so density stays where it is. What keeps them from surviving today, and how
each would change:

1. *Death signal.* Containers get ``PR_SET_PDEATHSIG`` (re-armed after ``setuid``). With live
   restore a container's init drops it right before ``execve``; a stem that has not exec'd still dies
   with the spawner (its control socket hangs up, so its ``recv`` returns EOF and it exits).
2. *Output.* Today stdout/stderr are pipes whose only read end is the spawner's: when it dies the
   container gets ``SIGPIPE``. Instead, two FIFOs in the container's (root-only) directory: the stem
   opens each ``O_RDWR`` and makes it its stdout/stderr, so a reader always exists (the container
   itself) and a write never fails -- with no spawner it blocks once the FIFO's buffer is full
   (``F_SETPIPE_SZ`` up to 1 MiB), which is the back-pressure docker's blocking log mode gives too.
   The spawner opens the FIFOs by path, ``O_RDONLY|O_NONBLOCK``; so does the next one. No process
   has to hold anything for them. Exits are already seen through pidfds, not EOF, so nothing else
   in supervision changes. (Cost: two ``mkfifo`` + ``open`` per start, tens of microseconds.)
3. *Exit codes.* An orphan goes to the nearest ancestor that is a child subreaper, else to host
   PID 1, which reaps it and loses the code. One *keeper* per state root -- not per container --
   is the process the client double-forks: it sets ``PR_SET_CHILD_SUBREAPER`` and forks the spawner.
   Orphaned containers become its children; it reaps them (``waitid``) and writes each exit status
   atomically next to the container's state. It restarts nothing and holds no container fds.
   (``exec``'d processes live in the container's PID namespace, so they are reparented to the
   container's own init, as for any process there.)
4. *Adoption.* The next spawner's recovery, for each record still "running": ``pidfd_open(pid)``,
   check it is the same process (start time in ``/proc/PID/stat`` against the recorded one; PID
   reuse otherwise), still in the recorded cgroup; then supervise it as if it had just exec'd --
   pidfd in the loop, FIFOs opened, the json-file log appended to. Its exit code comes from the
   keeper's status file (the new spawner is not its parent, so ``waitpid`` cannot give it). A record
   whose process is gone gets the keeper's code, or 255 as today.
5. *Lost on the way.* Attached clients and exec sessions lose their connection (as with dockerd);
   a ``stop`` timer in flight is lost (the next ``stop`` starts a new one); ``--rm`` containers
   adopted this way are removed by the new spawner when they exit.

The keeper is the only new process, one per root; the extra costs are per start (two FIFOs) and per
restart (adoption), none per running container.

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
