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
import random
from dataclasses import dataclass
from pathlib import Path

from runtime.containers import logs as logfile
from runtime.containers.client import Session, SpawnerClient
from runtime.containers.spec import Spec, etc_files, process
from runtime.containers.state import RUNNING, Containers, Record, now, write_json
from runtime.errors import Conflict, NotFound, VmvcError

_ADJECTIVES = (
    "brave",
    "calm",
    "eager",
    "fast",
    "gentle",
    "happy",
    "keen",
    "lucid",
    "nimble",
    "quiet",
    "sharp",
    "tidy",
    "vivid",
    "witty",
    "zen",
)
_NAMES = (
    "babbage",
    "curie",
    "dijkstra",
    "euler",
    "hopper",
    "kernighan",
    "lamport",
    "lovelace",
    "noether",
    "ritchie",
    "shannon",
    "thompson",
    "torvalds",
    "turing",
    "wirth",
)


@dataclass
class RunResult:
    id: str
    exit_code: int
    oom_killed: bool
    stdout: bytes
    stderr: bytes


def _checked(session: Session) -> Session:
    """The session, or its error raised (and the connection closed)."""
    if "error" in session.reply:
        session.close()
        _raise(session.reply)
    return session


def _raise(reply: dict) -> dict:
    if "error" in reply:
        code = reply.get("code", 125)
        if code == 409:
            raise Conflict(reply["error"])
        raise VmvcError(reply["error"], exit_code=code if code < 256 else 125)
    return reply


class Engine:
    def __init__(self, root: str | os.PathLike | None = None) -> None:
        if root is None:
            from runtime import paths

            root = paths.subdir("containers")
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.table = Containers(self.root)
        self.spawner = SpawnerClient(self.table)

    # -- create / remove --------------------------------------------------------------------------
    def _images(self):
        from runtime.images import open_store

        return open_store(self.root.parent / "images")

    def create(self, spec: Spec) -> str:
        """Make a container (nothing runs yet); returns its id. Nothing is left behind on error."""
        store = self._images()
        image = store.resolve(spec.image)
        proc = process(spec, image.config)
        cid = self.table.new_id()
        name = spec.name or f"{random.choice(_ADJECTIVES)}_{random.choice(_NAMES)}_{cid[:4]}"
        self.table.reserve_name(name, cid)
        d = self.table.dir(cid)
        try:
            d.mkdir()
            (d / "work").mkdir()
            hostname = spec.hostname or cid[:12]
            if spec.network != "host":
                os.makedirs(d / "upper/etc")
                for rel, text in etc_files(hostname).items():
                    with open(d / "upper" / rel, "w") as f:
                        f.write(text)
            else:
                (d / "upper").mkdir()
            config = {
                "id": cid,
                "name": name,
                "created": now(),
                "image": spec.image,
                "image_id": image.id,
                "layers": list(image.layer_dirs),
                "process": proc,
                "hostname": hostname,
                "network": spec.network,
                "tty": spec.tty,
                "stdin": spec.stdin,
                "auto_remove": spec.auto_remove,
                "labels": dict(spec.labels),
                "volumes": [
                    {"host": v.host, "container": v.container, "readonly": v.readonly} for v in spec.volumes
                ],
                "limits": {"memory": spec.memory, "cpus": spec.cpus, "pids": spec.pids_limit},
                "spec": spec.to_dict(),
            }
            write_json(d / "config.json", config)  # no state.json yet means "created"
            store.hold(image.id, cid)
        except BaseException:
            self.table.delete(cid)
            self.table.release_name(name, cid)
            raise
        return cid

    def remove(self, ref: str, force: bool = False) -> str:
        rec = self.get(ref)
        if rec.running:
            if not force:
                raise Conflict(
                    f'cannot remove container "{rec.name}": container is running: stop the '
                    "container before removing or force remove"
                )
            self.kill(rec.id)
            self.wait(rec.id)
        self.table.delete(rec.id)
        return rec.id

    # -- reading ----------------------------------------------------------------------------------
    def get(self, ref: str) -> Record:
        return self.table.get(ref)

    def list(self, all: bool = False) -> list[Record]:
        records = self.table.all()
        return records if all else [r for r in records if r.running]

    def inspect(self, ref: str) -> dict:
        from runtime.containers.inspect import inspect

        return inspect(self.get(ref), self.table)

    def logs(self, ref: str, follow: bool = False, tail: int | None = None):
        """json-file entries (``{"log", "stream", "time"}``); with ``follow`` until the container stops."""
        rec = self.get(ref)
        path = str(self.table.log_path(rec.id))
        if not follow:
            return iter(logfile.read(path, tail))

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
            return _checked(self.spawner.session({"op": "start", "id": rec.id, "attach": True}))
        _raise(self.spawner.request({"op": "start", "id": rec.id}))
        return None

    def attach(self, ref: str, wait_start: bool = True) -> Session:
        """Output of a container from now on (before ``start``: from its first byte)."""
        rec = self.get(ref)
        return _checked(self.spawner.session({"op": "attach", "id": rec.id, "wait_start": wait_start}))

    def run(self, spec: Spec, capture: bool = True) -> RunResult:
        """create + start + wait, collecting output; ``--rm`` containers are gone when it returns."""
        cid = self.create(spec)
        try:
            session = self.start(cid, attach=True)
        except VmvcError:
            if spec.auto_remove:
                self._forget(cid)
            raise
        out, err = bytearray(), bytearray()
        with session:
            for kind, payload in session.frames():
                if capture and kind == 1:
                    out += payload
                elif capture and kind == 2:
                    err += payload
        if session.exit_code is None:
            raise VmvcError("lost the connection to the container spawner")
        return RunResult(cid, session.exit_code, session.oom_killed, bytes(out), bytes(err))

    def _forget(self, cid: str) -> None:
        try:
            self.table.delete(cid)
        except OSError:
            pass

    def wait(self, ref: str, condition: str = "not-running") -> int:
        cid = self.table.resolve(ref)
        with self.spawner.session({"op": "wait", "id": cid, "condition": condition}) as s:
            reply = _raise(s.reply)
            if "exit" in reply:
                return reply["exit"]
            for _ in s.frames():
                pass
            if s.exit_code is None:
                raise VmvcError("lost the connection to the container spawner")
            return s.exit_code

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
                for _ in s.frames():
                    pass
        except OSError:
            return
        import time

        for _ in range(500):  # the spawner removes its socket on the way out
            if not self.table.socket_path.exists():
                return
            time.sleep(0.01)


__all__ = ["Engine", "RunResult", "Spec", "RUNNING"]
