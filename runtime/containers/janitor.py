"""The janitor: a child of the spawner that removes dead containers' cgroups and directories.

Why a process. Removing a cgroup directory waits for the kernel to take the cgroup offline (an RCU
grace period: 10-16 ms here); deleting a ``--rm`` container's renamed directory takes 1-3 ms. Done
by the spawner itself, even when idle, that blocked its loop: a ``run`` arriving just after another
container exited waited behind it. The janitor is forked once, when the spawner starts (still
single-threaded, so the fork is safe), and takes work over a pipe, one line per job::

    cgroup <name>      kill what is left in the cgroup and remove it
    purge <path>       delete a container directory already renamed out of the listing

Deleting goes through :mod:`runtime.linux.safefs` (no recursion, no following symlinks), and a job
that fails is one line on stderr: the directory shapes a container can leave (a 100 000-deep tree in
``/tmp``) once crashed the janitor, then the spawner, then every recovery. Nothing is lost if it
dies: the spawner falls back to doing the job itself, and a restarted spawner's recovery removes
every cgroup of its root and every ``.rm-*`` directory. When the spawner stops it closes the pipe and
waits, so a shutdown leaves nothing behind.
"""

from __future__ import annotations

import collections
import os

from runtime.linux import safefs


class Janitor:
    def __init__(self, cg, keep_fds) -> None:
        """Fork the janitor; ``keep_fds`` is :func:`runtime.containers.init.keep_fds` (closes every
        inherited fd but the given ones and stdio)."""
        r, w = os.pipe()
        self.cg = cg
        self.pid = os.fork()
        if self.pid == 0:
            code = 0
            try:
                keep_fds([r])
                _serve(cg, r)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(r)
        self.w: int | None = w
        os.set_blocking(w, False)  # a janitor busy with a huge tree must never block the spawner
        self.backlog: collections.deque[bytes] = collections.deque()

    def remove_cgroup(self, name: str) -> None:
        if not self._send(f"cgroup {name}"):
            self.cg.remove(name)

    def purge(self, path: str) -> None:
        if not self._send(f"purge {path}"):
            purge(path)

    def _send(self, line: str) -> bool:
        """Queue a job; False if the janitor is gone (the caller then does it itself). Jobs the pipe
        cannot take right now wait in :attr:`backlog` and go with the next job or at :meth:`close`."""
        if self.w is None or "\n" in line:
            return False
        self.backlog.append((line + "\n").encode())
        try:
            self._flush()
            return True
        except OSError:  # the janitor died (EPIPE): jobs queued before this one are done here
            os.close(self.w)
            self.w = None
            self.backlog.pop()
            while self.backlog:
                self._do_here(self.backlog.popleft().decode().rstrip("\n"))
            return False

    def _flush(self) -> None:
        try:
            while self.backlog:
                data = self.backlog[0]
                n = os.write(self.w, data)
                if n < len(data):
                    self.backlog[0] = data[n:]
                    return
                self.backlog.popleft()
        except BlockingIOError:
            pass

    def _do_here(self, line: str) -> None:
        kind, _, arg = line.partition(" ")
        if kind == "cgroup":
            try:
                self.cg.remove(arg)
            except OSError as e:
                say(f"vmvc: cgroup {arg}: {e}")
        elif kind == "purge":
            purge(arg)

    def close(self) -> None:
        """Let the janitor finish its queue (and the backlog) and exit."""
        if self.w is not None:
            try:
                os.set_blocking(self.w, True)
                self._flush()
            except OSError:
                for data in self.backlog:
                    self._do_here(data.decode().rstrip("\n"))
            self.backlog.clear()
            os.close(self.w)
            self.w = None
        if self.pid:
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
            self.pid = 0


def _serve(cg, r: int) -> None:
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # finish the queue; EOF (the spawner closed or died) ends it
    with os.fdopen(r, "r") as jobs:
        for line in jobs:
            kind, _, arg = line.rstrip("\n").partition(" ")
            try:
                if kind == "cgroup":
                    cg.remove(arg)
                elif kind == "purge":
                    purge(arg)
            except Exception as e:  # one job failing must not end the janitor (nor its queue)
                say(f"janitor: {kind} {arg}: {e}")


def purge(path: str) -> None:
    """Delete a dead container's directory, whatever shape its upper dir has (deep trees, FIFOs,
    symlinks: :func:`runtime.linux.safefs.rmtree`); a failure is one line on stderr, never an
    exception, so neither the janitor nor the spawner nor recovery can be stopped by it."""
    try:
        safefs.rmtree(path)
    except OSError as e:
        say(f"vmvc: could not delete {path}: {e.strerror or e}")


def say(line: str) -> None:
    """One line on fd 2 (the spawner's log): straight to the fd, since in the forked janitor
    ``sys.stderr`` may be an object whose own fd was closed; a failed write is not an error."""
    try:
        os.write(2, (line + "\n").encode(errors="replace"))
    except OSError:
        pass
