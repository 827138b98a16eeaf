"""The spawner's life: take the state root's lock, recover, serve the socket, shut down cleanly.

:class:`Spawner` owns the pieces -- the loop (:mod:`.loop`), the stem pool (:mod:`.stems`), the
supervisor (:mod:`.supervise`) and the request handlers (:mod:`.ops`) -- and the resources they share
(the container table, cgroup manager, image store, namespace fds, the janitor). One spawner per
state root: the lock is an ``flock`` on the root's lock file; a second spawner that finds a live one
(its socket answers) steps aside. Its recovery adopts the containers a previous spawner left running
(:mod:`runtime.containers.recovery`). It exits after ``IDLE_EXIT_SECONDS`` without containers or
clients, on ``SIGTERM`` and on a ``shutdown`` request. On a ``shutdown`` (``vmvc system stop``) it
kills its containers (recording their exits); on ``SIGTERM`` it leaves them running for the next
spawner to adopt, as dockerd's live-restore does (``exec``'d processes and ``-t`` containers die with
it). Either way it drops its stem and finishes cleanup, so that nothing else is left behind.
"""

from __future__ import annotations

import fcntl
import os
import resource
import signal
import socket
import sys
import time

from runtime import cgroups
from runtime.containers import init, recovery
from runtime.containers.janitor import Janitor
from runtime.containers.spawner.conn import Conn
from runtime.containers.spawner.loop import Loop
from runtime.containers.spawner.ops import Requests
from runtime.containers.spawner.stems import StemPool
from runtime.containers.spawner.supervise import Supervisor
from runtime.containers.state import Containers
from runtime.images import open_store
from runtime.linux.syscalls import syscalls

IDLE_EXIT_SECONDS = 600.0
TRACE = bool(os.environ.get("VMVC_TRACE"))  # phase timings of every start/exit on stderr (spawner.log)


class Spawner:
    def __init__(self, root: str) -> None:
        self.table = Containers(root)
        self.sys = syscalls()
        self.cg = cgroups.manager()
        self.images = open_store(self.table.images_root)
        self.prefix = self.table.cgroup_prefix()
        self.own_pidns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        self.host_netns = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        self.loop = Loop()
        self.pool = StemPool(self)
        self.sup = Supervisor(self)
        self.ops = Requests(self)
        self.conns: set[Conn] = set()
        self.deferred: list = []  # cleanup to do when idle (after replies went out)
        self.janitor: Janitor | None = None  # removes dead containers' cgroups and directories
        self.last_activity = time.monotonic()
        self.marks: list[tuple[str, float]] = []
        self.leave_running = False  # set by SIGTERM: exit without killing the containers

    # -- lifetime ---------------------------------------------------------------------------------
    def serve(self, ready_fd: int | None = None) -> None:
        lock = self._lock()
        if lock is None:
            return  # another spawner owns this root
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # raise soft up to hard, never above
        for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, self._on_sigterm)
        self.janitor = Janitor(self.cg, init.keep_fds)
        recovery.recover(self.table, self.cg, purge=self.janitor.purge, adopt=self.sup.adopt)
        path = self.table.socket_path
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        os.chmod(path, 0o600)
        listener.listen(128)
        listener.setblocking(False)
        self.loop.watch(listener, lambda mask: self._accept(listener))
        try:
            self.pool.fork_stem()
            if ready_fd is not None:
                os.write(ready_fd, b"ok")
                os.close(ready_fd)
            self.loop.run(self._idle_pending, self._idle_work, self._tick)
        finally:
            self.loop.unwatch(listener)
            listener.close()
            self.shutdown_all(kill=not self.leave_running)
            for conn in list(self.conns):
                conn.close()
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            os.close(lock)

    def _lock(self, seconds: float = 10.0) -> int | None:
        """Take the root's lock; None if a live spawner has it. (A client recovering after a crash
        holds it briefly: wait for that.)"""
        fd = os.open(self.table.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        deadline = time.monotonic() + seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                pass
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(self.table.socket_path)
                alive = True
            except OSError:
                alive = False
            finally:
                probe.close()
            if alive or time.monotonic() > deadline:
                os.close(fd)
                return None
            time.sleep(0.01)

    def _on_sigterm(self, *_):
        self.leave_running = True  # live restore: the containers stay, the next spawner adopts them
        self.loop.running = False

    def _tick(self) -> None:
        """After every loop round: exit once idle (no containers, execs or clients) for long enough."""
        if self.sup.boxes or self.conns or self.sup.execs:
            self.last_activity = time.monotonic()
        elif time.monotonic() - self.last_activity > IDLE_EXIT_SECONDS:
            self.loop.running = False

    def shutdown_all(self, kill: bool = True) -> None:
        """Kill every container (recording its exit; without ``kill`` they keep running), drop the
        stem, finish cleanup."""
        if kill:
            self.sup.kill_all()
        else:
            self.sup.leave_all()
        self.pool.close()
        self._run_deferred(once=False)
        if self.janitor is not None:
            self.janitor.close()  # its queue done: nothing is left behind once the spawner is gone

    # -- idle work --------------------------------------------------------------------------------
    def _idle_pending(self) -> bool:
        return not self.pool.full or bool(self.deferred)

    def _idle_work(self) -> None:
        """Work off the critical path, one piece per idle moment: a new stem first, then a slot,
        then cleanup (the loop holds it back within ``REFILL_DELAY`` of a start, whose exit, if it is
        short, comes first)."""
        if not self.pool.full:
            self.pool.fill_one()
        elif self.deferred:
            self._run_deferred(once=True)

    def _run_deferred(self, once: bool) -> None:
        """Deferred cleanup: one piece per idle moment, or all of it on the way out."""
        while self.deferred:
            fn = self.deferred.pop(0)
            try:
                fn()
            except OSError as e:
                print(f"spawner: cleanup failed: {e}", file=sys.stderr, flush=True)
            if once:
                return

    def remove_cgroup(self, name: str) -> None:
        if self.janitor is not None:
            self.janitor.remove_cgroup(name)
        else:
            self.deferred.append(lambda: self.cg.remove(name))

    def purge(self, trash: str) -> None:
        if self.janitor is not None:
            self.janitor.purge(trash)
        else:
            self.deferred.append(lambda: self.table.purge(trash))

    # -- clients ----------------------------------------------------------------------------------
    def _accept(self, listener: socket.socket) -> None:
        try:
            sock, _ = listener.accept()
        except BlockingIOError:
            return
        self.conns.add(Conn(self.loop, sock, self.ops.on_frame, self._forget))

    def _forget(self, conn: Conn) -> None:
        self.conns.discard(conn)
        self.sup.forget(conn)

    def mark(self, what: str) -> None:
        if TRACE:
            self.marks.append((what, time.perf_counter()))
            if what in ("replied", "exit handled"):
                t0 = self.marks[0][1]
                print(
                    " ".join(f"{w}={1000 * (t - t0):.2f}" for w, t in self.marks), file=sys.stderr, flush=True
                )
                self.marks = []


def main(argv: list[str] | None = None) -> int:
    """``python -m runtime.containers.spawner ROOT [READY_FD]`` (as :mod:`runtime.containers.client`
    starts it): serve ROOT; write ``ok`` to READY_FD once serving."""
    argv = sys.argv[1:] if argv is None else argv
    ready = int(argv[1]) if len(argv) > 1 else None
    Spawner(argv[0]).serve(ready)
    return 0
