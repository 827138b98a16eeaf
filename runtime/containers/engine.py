"""The container engine's public API: what the CLI, the daemon, benchmarks and notebooks call.

    >>> from runtime.containers import Engine, Spec
    >>> eng = Engine()
    >>> result = eng.run(Spec("busybox", ["echo", "hi"], auto_remove=True))
    >>> result.exit_code, result.stdout
    (0, b'hi\\n')

Every verb is a method; containers are named by id, unique id prefix or name. Creating writes the
container's directory (:mod:`runtime.containers.state`); starting and everything that touches a
running process goes to the state root's spawner (:mod:`runtime.containers.spawner`), which this
object starts on first use.
"""

from __future__ import annotations

import os
import time

from runtime.containers.client import Session, SpawnerClient
from runtime.containers.spec import Spec
from runtime.containers.state import RUNNING, Containers, Record
from runtime.errors import Conflict, NotFound, VmvcError


class RunResult:
    """What :meth:`Engine.run` returns: the id, exit code, OOMKilled, the captured output, and the
    start's ``trace``: ``[[step, ms since the request], ...]`` (:mod:`runtime.containers.trace`)."""

    __slots__ = ("id", "exit_code", "oom_killed", "stdout", "stderr", "trace")

    def __init__(
        self,
        id: str,
        exit_code: int,
        oom_killed: bool,
        stdout: bytes,
        stderr: bytes,
        trace: list | None = None,
    ) -> None:
        self.id, self.exit_code, self.oom_killed, self.stdout, self.stderr = (
            id,
            exit_code,
            oom_killed,
            stdout,
            stderr,
        )
        self.trace = trace or []

    def __repr__(self) -> str:
        return (
            f"RunResult(id={self.id[:12]!r}, exit_code={self.exit_code}, oom_killed={self.oom_killed}, "
            f"stdout={self.stdout[:60]!r}, stderr={self.stderr[:60]!r})"
        )


def _checked(session: Session) -> Session:
    """The session, or its error raised (and the connection closed)."""
    if "error" in session.reply:
        session.close()
        _raise(session.reply)
    return session


def _raise(reply: dict) -> dict:
    """A spawner reply, or the error it carries raised as the same kind of VmvcError."""
    if "error" in reply:
        code = reply.get("code", 125)
        kind = {"NotFound": NotFound, "Conflict": Conflict}.get(reply.get("kind", ""))
        if code == 409 or kind is Conflict:
            raise Conflict(reply["error"])
        if kind is NotFound:
            raise NotFound(reply["error"])
        raise VmvcError(reply["error"], exit_code=code if code < 256 else 125)
    return reply


class Engine:
    def __init__(self, root: str | os.PathLike | None = None) -> None:
        if root is None:
            from runtime import paths

            root = paths.subdir("containers")
        self.root = os.fspath(root)
        os.makedirs(self.root, exist_ok=True)
        self.table = Containers(self.root)
        self.spawner = SpawnerClient(self.table)

    # -- create / remove --------------------------------------------------------------------------
    def create(self, spec: Spec) -> str:
        """Make a container (nothing runs yet); returns its id. Nothing is left behind on error."""
        return _raise(self.spawner.request({"op": "create", "spec": spec.to_dict()}))["id"]

    def remove(self, ref: str, force: bool = False) -> str:
        rec = self.get(ref)
        if rec.running:
            if not force:
                raise Conflict(
                    f'cannot remove container "{rec.name}": container is running: stop the '
                    "container before removing or force remove"
                )
            self.kill(rec.id)
            if rec.config.get("auto_remove"):  # --rm: its exit removes it; wait for that, not race it
                try:
                    self.wait(rec.id, "removed")
                except NotFound:
                    pass
                return rec.id
            self.wait(rec.id)
        self.table.delete(rec.id)
        return rec.id

    # -- reading ----------------------------------------------------------------------------------
    def get(self, ref: str) -> Record:
        rec = self.table.get(ref)
        if rec.running and self._recovered():
            rec = self.table.get(ref)
        return rec

    def list(self, all: bool = False) -> list[Record]:
        records = self.table.all()
        if any(r.running for r in records) and self._recovered():
            records = self.table.all()
        return records if all else [r for r in records if r.running]

    def _recovered(self) -> bool:
        """Records say "running" but no spawner is alive: it crashed, so clean up after it now."""
        from runtime.containers.recovery import recover_if_orphaned

        return recover_if_orphaned(self.table)

    def inspect(self, ref: str) -> dict:
        from runtime.containers.inspect import inspect

        return inspect(self.get(ref), self.table)

    def logs(self, ref: str, follow: bool = False, tail: int | None = None):
        """json-file entries (``{"log", "stream", "time"}``), oldest first across rotated files, read
        as they are consumed (constant memory); with ``follow`` until the container stops."""
        from runtime.containers import logs as logfile

        rec = self.get(ref)
        path = self.table.log_path(rec.id)
        if not follow:
            return logfile.stream(path, tail)

        def running() -> bool:
            try:
                return self.table.load(rec.id).running
            except NotFound:
                return False

        return logfile.follow(path, running, tail)

    def stats(self, ref: str) -> dict:
        from runtime.cgroups import manager

        rec = self.get(ref)
        if not rec.running or not rec.state.get("cgroup"):
            return {
                "id": rec.id,
                "name": rec.name,
                "memory_usage": 0,
                "memory_limit": None,
                "cpu_usage_ns": 0,
                "pids": 0,
                "pids_limit": None,
            }
        s = manager().stats(rec.state["cgroup"])
        return {"id": rec.id, "name": rec.name, **s.__dict__}

    # -- running ----------------------------------------------------------------------------------
    def start(self, ref: str, attach: bool = False) -> Session | None:
        """Start a created (or exited) container; with ``attach`` return its output stream."""
        rec = self.get(ref)
        if attach:
            return _checked(
                self.spawner.session({"op": "start", "id": rec.id, "attach": True, "t0": time.monotonic_ns()})
            )
        _raise(self.spawner.request({"op": "start", "id": rec.id, "t0": time.monotonic_ns()}))
        return None

    def attach(self, ref: str, wait_start: bool = True) -> Session:
        """Output of a container from now on (before ``start``: from its first byte)."""
        rec = self.get(ref)
        return _checked(self.spawner.session({"op": "attach", "id": rec.id, "wait_start": wait_start}))

    def run(self, spec: Spec, capture: bool = True) -> RunResult:
        """create + start + wait in one request, collecting output; ``--rm`` containers are gone
        when it returns."""
        out, err = bytearray(), bytearray()
        with self.run_session(spec) as session:
            for kind, payload in session.frames():
                if capture and kind == 1:
                    out += payload
                elif capture and kind == 2:
                    err += payload
        if session.exit_code is None:
            raise VmvcError("lost the connection to the container spawner")
        return RunResult(
            session.reply["id"], session.exit_code, session.oom_killed, bytes(out), bytes(err), session.trace
        )

    def run_session(self, spec: Spec, attach: bool = True) -> Session:
        """create + start as one request to the spawner; the session streams output until the exit."""
        msg = {"op": "run", "spec": spec.to_dict(), "attach": attach, "t0": time.monotonic_ns()}
        return _checked(self.spawner.session(msg))

    def wait(self, ref: str, condition: str = "not-running") -> int:
        """Block until the container stops; its exit code. ``condition`` as docker's: ``not-running``
        (return at once if it is not running), ``next-exit`` or ``removed`` (wait even if not started)."""
        with self.wait_session(ref, condition) as s:
            return self.wait_result(s)

    def wait_session(self, ref: str, condition: str = "not-running") -> Session:
        """Register a wait and return at once (the daemon answers docker's ``/wait`` headers now, then
        calls :meth:`wait_result`); registered before a ``start``, it cannot miss the exit."""
        cid = self.table.resolve(ref)
        return _checked(self.spawner.session({"op": "wait", "id": cid, "condition": condition}))

    @staticmethod
    def wait_result(session: Session) -> int:
        if "exit" in session.reply:
            return session.reply["exit"]
        for _ in session.frames():
            pass
        if session.exit_code is None:
            raise VmvcError("lost the connection to the container spawner")
        return session.exit_code

    def stop(self, ref: str, timeout: float = 10) -> bool:
        """SIGTERM, SIGKILL after ``timeout`` s; False if it was not running."""
        rec = self.get(ref)
        if not rec.running:
            return False
        with self.spawner.session({"op": "stop", "id": rec.id, "timeout": timeout}) as s:
            if _raise(s.reply).get("not_modified"):
                return False
            for _ in s.frames():
                pass
        return True

    def kill(self, ref: str, signal: str | int = "KILL") -> None:
        rec = self.get(ref)
        if not rec.running:
            raise Conflict(f"cannot kill container: {rec.name}: container {rec.id} is not running")
        _raise(self.spawner.request({"op": "kill", "id": rec.id, "signal": signal}))

    def exec(
        self,
        ref: str,
        cmd: list[str],
        env: list[str] | None = None,
        user: str | None = None,
        workdir: str | None = None,
        tty: bool = False,
        stdin: bool = False,
    ) -> Session:
        """Run ``cmd`` inside a running container (its namespaces and cgroup); a stream session."""
        rec = self.get(ref)
        if not rec.running:
            raise Conflict(f"container {rec.id} is not running")
        if not cmd:
            raise VmvcError("no command specified")
        return _checked(
            self.spawner.session(
                {
                    "op": "exec",
                    "id": rec.id,
                    "cmd": list(cmd),
                    "env": env or [],
                    "user": user,
                    "workdir": workdir,
                    "tty": tty,
                    "stdin": stdin,
                }
            )
        )

    def exec_run(self, ref: str, cmd: list[str], **kw) -> RunResult:
        session = self.exec(ref, cmd, **kw)
        out, err = bytearray(), bytearray()
        with session:
            for kind, payload in session.frames():
                (out if kind == 1 else err if kind == 2 else bytearray()).extend(payload)
        return RunResult(
            self.table.resolve(ref),
            session.exit_code if session.exit_code is not None else 125,
            False,
            bytes(out),
            bytes(err),
        )

    def shutdown(self) -> None:
        """Stop this root's spawner (killing its containers); the next call starts a new one."""
        try:
            with self.spawner.session({"op": "shutdown"}, launch=False) as s:
                pid = s.reply.get("pid")
                for _ in s.frames():
                    pass
        except OSError:
            return
        import select
        import time

        try:  # until the process is gone, not only its socket: "stopped" means nothing of it runs
            pidfd = os.pidfd_open(pid) if pid else None
        except ProcessLookupError:
            pidfd = None
        try:
            if pidfd is not None:
                select.select([pidfd], [], [], 5.0)
        finally:
            if pidfd is not None:
                os.close(pidfd)
        for _ in range(500):  # the spawner removes its socket on the way out
            if not os.path.exists(self.table.socket_path):
                break
            time.sleep(0.01)
        from runtime.containers import keeper

        keeper.wait_gone(self.table.root)  # with nothing left to reap, the root's keeper exits too


__all__ = ["Engine", "RunResult", "Spec", "RUNNING"]
