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

import os
import sys

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

    def remove_cgroup(self, name: str) -> None:
        if not self._send(f"cgroup {name}"):
            self.cg.remove(name)

    def purge(self, path: str) -> None:
        if not self._send(f"purge {path}"):
            purge(path)

    def _send(self, line: str) -> bool:
        if self.w is None or "\n" in line:
            return False
        try:
            os.write(self.w, (line + "\n").encode())
            return True
        except OSError:  # the janitor died (EPIPE): the caller does the job
            os.close(self.w)
            self.w = None
            return False

    def close(self) -> None:
        """Let the janitor finish its queue and exit."""
        if self.w is not None:
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
                print(f"janitor: {kind} {arg}: {e}", file=sys.stderr, flush=True)


def purge(path: str) -> None:
    """Delete a dead container's directory, whatever shape its upper dir has (deep trees, FIFOs,
    symlinks: :func:`runtime.linux.safefs.rmtree`); a failure is one line on stderr, never an
    exception, so neither the janitor nor the spawner nor recovery can be stopped by it."""
    try:
        safefs.rmtree(path)
    except OSError as e:
        print(f"vmvc: could not delete {path}: {e.strerror or e}", file=sys.stderr, flush=True)
