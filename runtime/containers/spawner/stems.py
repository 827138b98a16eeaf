"""The stem pool: a process and a container directory made before anyone asks for them.

A *stem* is a child forked in advance as PID 1 of a fresh PID namespace (the spawner
``unshare(CLONE_NEWPID)``s, forks, and ``setns``es back), which then joins a fresh cgroup and
prepares itself (:func:`runtime.containers.init.prepare`): new mount/UTS/IPC/net/cgroup namespaces,
``lo`` up, capabilities bounded, ``no_new_privs``, ``/proc``, ``/dev`` and ``/sys`` staged. It says
``R`` on its control socket when ready and then waits for a container's launch config. Joining a
cgroup waits for an RCU grace period when the host was idle (5-20 ms here): the stem pays that
before anyone waits for it. A *slot* is a container directory with an id, work dir and
``/etc/hostname``/``hosts`` (:func:`runtime.containers.create.make_slot`).

The pool holds one of each. :func:`fork_child` is also how an ``exec`` is forked (into the
container's PID namespace instead of a new one). A stem gets no output pipes: a container writes to
the two FIFOs in its directory (:func:`runtime.containers.init.open_fifos`), which the slot already
has, so that it can outlive the spawner; an ``exec`` gets pipes (it dies with the spawner).
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys

from runtime.containers import init
from runtime.containers.create import make_slot
from runtime.containers.keeper import proc_stat
from runtime.linux.syscalls import CLONE_NEWPID
from runtime.rootless import host_pid

STEM_READY_TIMEOUT = 10.0


class Stem:
    """A forked child waiting, inside its own cgroup and PID namespace, to become a container."""

    def __init__(
        self, pid: int, ctl: socket.socket, stdin_w: int, out_r: int | None, err_r: int | None, cgroup: str
    ):
        self.pid, self.ctl, self.stdin_w, self.out_r, self.err_r, self.cgroup = (
            pid,
            ctl,
            stdin_w,
            out_r,
            err_r,
            cgroup,
        )
        self.pidfd = os.pidfd_open(pid)
        st = proc_stat(host_pid(pid, self.pidfd))  # recorded with the container: tells it from a reused pid
        self.start = st[1] if st else 0
        self.ready = False
        self.privileged = False
        self.watched = False  # its control socket is in the loop, waiting for "R"


def fork_child(sys_, own_pidns: int, child, pidns: int | None, outputs: bool = True):
    """Fork ``child(ctl, stdin_r, stdout_w, stderr_w)`` (which must not return) as PID 1 of a new PID
    namespace (``pidns`` None) or into the PID namespace of pidfd ``pidns``; the spawner's own
    namespace (fd ``own_pidns``) for later children is restored at once. Returns (pid, ctl, parent
    pipe ends (stdin_w, stdout_r, stderr_r)); without ``outputs`` no stdout/stderr pipes (None)."""
    ctl, ctl_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe() if outputs else (None, None)
    err_r, err_w = os.pipe() if outputs else (None, None)
    if pidns is None:
        sys_.unshare(CLONE_NEWPID)
    else:
        sys_.setns(pidns, CLONE_NEWPID)
    try:
        pid = os.fork()
    except BaseException:
        sys_.setns(own_pidns, CLONE_NEWPID)
        raise
    if pid == 0:
        try:
            child(ctl_child, in_r, out_w, err_w)
        finally:
            os._exit(125)
    sys_.setns(own_pidns, CLONE_NEWPID)
    for fd in (in_r, out_w, err_w):
        if fd is not None:
            os.close(fd)
    ctl_child.close()
    return pid, ctl, (in_w, out_r, err_r)


class StemPool:
    """One stem and one slot kept ready for the next start (see the module docstring)."""

    def __init__(self, spawner) -> None:
        self.sp = spawner
        self.stem: Stem | None = None
        self.slot: str | None = None  # a container directory made ahead (create.make_slot)
        self.waiting: list[list] = []  # [then, fail, privileged, failures] of starts waiting for a stem

    @property
    def full(self) -> bool:
        return self.stem is not None and self.slot is not None

    def fill_one(self) -> None:
        """One piece of idle work: the stem first, then the slot."""
        if self.stem is None:
            self.fork_stem()
        elif self.slot is None:
            slot = make_slot(self.sp.table)
            for name in init.FIFOS:  # the container's stdout and stderr, made off the start path
                os.mkfifo(os.path.join(slot, name), 0o600)
            self.slot = slot

    def fork_stem(self, privileged: bool = False) -> None:
        """``privileged`` (H3, issue 10): a stem for ``--privileged``, which keeps every capability."""
        sp = self.sp
        sp.mark("stem fork")
        name = sp.prefix + os.urandom(6).hex()
        pid, ctl, (in_w, out_r, err_r) = fork_child(
            sp.sys,
            sp.own_pidns,
            lambda ctl_c, in_r, out_w, err_w: self._stem_main(ctl_c, in_r, out_w, err_w, name, privileged),
            None,
            outputs=False,
        )
        self.stem = Stem(pid, ctl, in_w, out_r, err_r, name)
        self.stem.privileged = privileged

    def _stem_main(
        self, ctl: socket.socket, in_r: int, out_w: int, err_w: int, cgroup: str, privileged: bool = False
    ) -> None:
        """In the stem (PID 1 of its namespace). Never returns. It makes its own cgroup (the mkdirs
        cost the spawner ~0.5 ms) and joins it; whoever discards the stem removes the cgroup."""
        sp = self.sp
        code, started = 125, False
        try:
            init.child_prologue(sp.sys, [ctl.fileno(), in_r, out_w, err_w, sp.host_netns])
            sp.cg.create(cgroup)
            if privileged:  # H3: --privileged (issue 10)
                sp.cg.allow_all_devices(cgroup)
            for path in sp.cg.procs_files(cgroup):
                with open(path, "w") as f:
                    f.write("0")
            init.prepare(sp.sys, sp.table.mountpoint, privileged)
            ctl.send(b"R")
            data = ctl.recv(1 << 20)
            if not data:
                os._exit(0)
            cfg = json.loads(data)
            started = True
            try:
                init.start_container(sp.sys, ctl, cfg, in_r, out_w, err_w, sp.host_netns)
            except init.StartError as e:
                init.report(ctl, e)
                code = e.code
        except BaseException as e:  # unexpected: still one line for the user, never a traceback
            if started:
                init.report(ctl, init.StartError(f"container init failed: {type(e).__name__}: {e}"))
        os._exit(code)

    def refill(self) -> None:
        try:
            self.fork_stem()
        except OSError as e:  # try again when idle
            print(f"spawner: could not fork a stem: {e}", file=sys.stderr, flush=True)

    def get(self, then, fail, privileged: bool = False) -> None:
        """Hand a ready stem to ``then(stem)``: at once if one is ready, otherwise when it says so --
        never blocking the loop (a stem that hangs while it prepares must not stop other containers'
        output). ``fail(message)`` after two stems in a row did not get ready within
        ``STEM_READY_TIMEOUT`` or died. Starts are served in the order they asked."""
        self.waiting.append([then, fail, privileged, 0])
        if len(self.waiting) == 1:
            self._serve()

    def _serve(self) -> None:
        while self.waiting:
            then, fail, privileged, _ = self.waiting[0]
            if self.stem is not None and self.stem.privileged != privileged:
                self.discard()
            if self.stem is None:
                try:
                    self.fork_stem(privileged)
                except OSError as e:
                    self.waiting.pop(0)
                    fail(f"the spawner could not fork a process for the container: {e}")
                    continue
            stem = self.stem
            if not stem.ready and not self._poll_ready(stem):
                self._await_ready(stem)
                return
            self.waiting.pop(0)
            self.stem = None
            then(stem)

    def _poll_ready(self, stem: Stem) -> bool:
        """Read the stem's "R" if it is there; False while it is still preparing (a dead or
        misbehaving stem is dropped, counted against the first waiting start)."""
        try:
            data = stem.ctl.recv(16, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        except OSError:
            data = b""
        if data == b"R":
            stem.ready = True
            return True
        self._stem_failed(stem)
        return False

    def _await_ready(self, stem: Stem) -> None:
        if stem.watched:
            return
        stem.watched = True
        loop = self.sp.loop
        loop.watch(stem.ctl, lambda mask: self._on_ready(stem))
        loop.after(STEM_READY_TIMEOUT, lambda: self._stem_failed(stem) if not stem.ready else None)

    def _on_ready(self, stem: Stem) -> None:
        if self._poll_ready(stem) or self.stem is not stem:
            self.sp.loop.unwatch(stem.ctl)
            stem.watched = False
            self._serve()

    def _stem_failed(self, stem: Stem) -> None:
        """A stem that died or did not get ready in time: drop it; the first waiting start gets
        another one, or fails after the second."""
        if self.stem is not stem:
            return
        print(f"spawner: stem {stem.pid} did not get ready; dropped", file=sys.stderr, flush=True)
        self.discard()
        if self.waiting:
            self.waiting[0][3] += 1
            if self.waiting[0][3] >= 2:
                fail = self.waiting.pop(0)[1]
                fail("the spawner could not prepare a process for the container")
        self._serve()

    def take_slot(self) -> str | None:
        slot, self.slot = self.slot, None
        return slot

    def give_back_slot(self, slot: str) -> None:
        self.slot = slot

    def discard(self, wait: float = 0.0) -> None:
        """Kill the stem; it is reaped and its cgroup removed when its pidfd says it is gone (or,
        with ``wait``, within that many seconds: on the way out). Never blocks the loop on a stem
        stuck in the kernel."""
        stem, self.stem = self.stem, None
        if stem is None:
            return
        try:
            signal.pidfd_send_signal(stem.pidfd, signal.SIGKILL)
        except OSError:
            pass
        loop = self.sp.loop
        loop.unwatch(stem.ctl)
        for fd in (stem.stdin_w, stem.out_r, stem.err_r):
            if fd is not None:
                os.close(fd)
        stem.ctl.close()
        if wait and select.select([stem.pidfd], [], [], wait)[0]:
            self._reaped(stem)
        else:
            loop.watch(stem.pidfd, lambda mask: self._reaped(stem))

    def _reaped(self, stem: Stem) -> None:
        self.sp.loop.unwatch(stem.pidfd)
        try:
            os.waitpid(stem.pid, os.WNOHANG)
        except ChildProcessError:
            pass
        os.close(stem.pidfd)
        self.sp.remove_cgroup(stem.cgroup)

    def close(self) -> None:
        """Drop the stem and the slot (on the way out)."""
        for _, fail, _, _ in self.waiting:
            fail("the spawner is stopping")
        self.waiting = []
        self.discard(wait=5.0)
        if self.slot:
            self.sp.table.purge(self.slot)
            self.slot = None
