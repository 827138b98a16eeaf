"""The spawner: one small, single-threaded, pre-imported process that forks every container.

Why it exists. Forking a multi-threaded daemon is unsafe, and starting a Python interpreter per
container costs 10–70 ms. The spawner is started once per state root (by the first client that
needs it), imports everything a start needs, and then serves requests on a unix socket with a
``selectors`` loop: start, attach, wait, stop, kill, exec, shutdown. It is also each container's
monitor: it pumps output into the json-file log and to attached clients, reaps exits, records exit
codes and ``OOMKilled``, removes cgroups and ``--rm`` containers. Per running container it keeps a
few fds and a small object, nothing else (no shim process); they outlive it (live restore, below).

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

Live restore (issue 10). As with dockerd's ``live-restore``, running containers and their output
survive the spawner's death -- ``kill -9``, a crash, ``SIGTERM`` -- and are adopted by the next one,
without a shim per container, so density stays where it is. Four pieces:

1. *Death signal.* Everything the spawner forks gets ``PR_SET_PDEATHSIG``. A container's init drops it
   right before ``execve`` and then checks that the spawner is still there (its control socket has
   not hung up): a stem that has not exec'd dies with the spawner, a start the spawner died in never
   runs (:func:`runtime.containers.init.rearm_death_signal`). ``exec``'d processes keep it (their
   pipes are the spawner's), and so do ``-t`` containers: their pty master is the spawner's, and
   without a process to hold it their terminal would hang up anyway, so they are killed with the
   spawner and recorded as exited with a message that says why.
2. *Output.* stdout and stderr are two FIFOs in the container's root-only directory (made with the
   slot, off the start path). The container opens each ``O_RDWR`` and makes it its stdout/stderr, so
   a reader always exists (the container itself) and a write never fails: with no spawner it blocks
   once the FIFO's buffer is full, the back-pressure of docker's blocking log mode. The spawner opens
   them by path, ``O_RDONLY|O_NONBLOCK``, *before* sending the stem its config (a FIFO's buffer lives
   only while some fd of it is open: a short container's output would be gone otherwise), and the
   next spawner does the same. The buffer stays the kernel's 64 KiB (``VMVC_FIFO_SIZE`` raises it
   with ``F_SETPIPE_SZ``): every byte counts against root's per-user pipe budget (64 MiB soft), past
   which every new pipe of root's processes gets a single page -- at 1 MiB per FIFO, after 32
   containers. Exits are seen through pidfds, not EOF, so nothing else in supervision changes.
3. *Exit codes.* An orphan goes to the nearest ancestor that is a child subreaper, else to host PID 1,
   which reaps it and loses the code. One *keeper* per state root -- not per container
   (:mod:`runtime.containers.keeper`) -- is the process the client double-forks: it sets
   ``PR_SET_CHILD_SUBREAPER``, forks the spawner and ``exec``s a small stdlib-only script. Orphaned
   containers become its children; it writes each exit code atomically to ``exits/<pid>-<start
   time>`` in the state root and then reaps it. It restarts nothing and holds no container fds; the
   next spawner is forked by it when a client asks (over ``keeper.sock``), and it exits once the root
   has neither a spawner nor an orphan.
4. *Adoption* (:mod:`runtime.containers.recovery`). The next spawner (or a CLI command that finds
   none: it then starts one) checks each record still "running": ``pidfd_open(pid)``, the start time
   in ``/proc/PID/stat`` against the one recorded at start (PID reuse otherwise: the unrelated process
   is left alone), still in the recorded cgroup. Then it supervises it as if it had just exec'd
   (:meth:`Supervisor.adopt`): pidfd in the loop, FIFOs opened, the json-file log appended to (a line
   torn by the kill is ended first), ``--rm`` removed on exit, ``stop``/``kill``/``wait``/``exec`` as
   for any container. Its exit code comes from the keeper's file (the new spawner is not its parent, so
   ``waitpid`` cannot give it). A record whose process is gone gets the keeper's code, or 255.

Lost on the way, as with dockerd: attached clients and ``exec`` sessions lose their connection; a
``stop`` timer in flight is lost (the next ``stop`` starts a new one); a ``-i`` container's stdin
reaches EOF; ``exec``'d processes die (and stay zombies of the container's init until it exits); what a
container wrote right before exiting while no spawner was alive; at most the one output chunk a
killed spawner had read and not yet logged. ``vmvc system stop -f`` (a ``shutdown`` request) still
kills every container; ``SIGTERM`` of the spawner, or of ``vmvc daemon``, leaves them running.

The keeper is the only new process, one per root; the extra costs are per start (two FIFO opens) and
per restart (adoption), none per running container.

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
