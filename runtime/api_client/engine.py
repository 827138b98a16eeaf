"""The container engine's interface (:class:`runtime.containers.Engine`) over the Docker Engine API.

The CLI's container verbs take it in place of the local engine and print what they always print:
records are rebuilt from ``GET /containers/{id}/json``, sessions are hijacked attach/exec streams, and
``run`` follows the docker CLI's order (create, attach, wait, start) so no output is lost.
"""

from __future__ import annotations

import contextlib
import json

from runtime.api_client.client import Client
from runtime.api_client.session import StreamSession
from runtime.containers.state import Record
from runtime.errors import NotFound, VmvcError

_UNSET = "0001-01-01T00:00:00Z"


def create_body(spec) -> dict:
    """A :class:`Spec` as docker's ``POST /containers/create`` body."""
    if spec.storage_opt:
        raise VmvcError("--storage-opt is not supported through the daemon's API: run "
                        "without --host (VMVC_HOST) for it")
    host = {"NetworkMode": {"private": "default"}.get(spec.network, spec.network),
            "AutoRemove": bool(spec.auto_remove),
            "Binds": [f"{v.host}:{v.container}" + (":ro" if v.readonly else "") for v in spec.volumes],
            "Memory": spec.memory or 0, "NanoCpus": int((spec.cpus or 0) * 1e9),
            "PidsLimit": spec.pids_limit, "Init": bool(spec.init) or None,
            "Privileged": bool(spec.privileged), "SecurityOpt": list(spec.security_opt) or None,
            "LogConfig": {"Type": "json-file", "Config": dict(o.split("=", 1) for o in spec.log_opt)}
            if spec.log_opt else None}
    body = {"Image": spec.image, "Cmd": spec.cmd, "Entrypoint": spec.entrypoint, "Env": list(spec.env),
            "WorkingDir": spec.workdir or "", "User": spec.user or "", "Hostname": spec.hostname or "",
            "Labels": spec.labels or {}, "Tty": bool(spec.tty), "OpenStdin": bool(spec.stdin),
            "StdinOnce": bool(spec.stdin), "AttachStdin": bool(spec.stdin), "AttachStdout": True,
            "AttachStderr": True, "HostConfig": {k: v for k, v in host.items() if v is not None}}
    return {k: v for k, v in body.items() if v is not None}


def record(data: dict) -> Record:
    """``GET /containers/{id}/json`` -> the engine's :class:`Record` (what the CLI's printers read)."""
    state, config = data.get("State") or {}, data.get("Config") or {}

    def stamp(key):
        value = state.get(key) or ""
        return "" if value.startswith("0001") else value

    return Record(
        {"id": data["Id"], "name": data.get("Name", "").lstrip("/"), "image": config.get("Image", ""),
         "image_id": data.get("Image", ""), "created": data.get("Created", ""),
         "process": {"args": [data.get("Path", ""), *(data.get("Args") or [])]},
         "tty": bool(config.get("Tty")), "stdin": bool(config.get("OpenStdin")),
         "labels": config.get("Labels") or {},
         "auto_remove": bool((data.get("HostConfig") or {}).get("AutoRemove"))},
        {"status": state.get("Status", "created"), "pid": state.get("Pid") or None,
         "exit_code": state.get("ExitCode", 0), "oom_killed": state.get("OOMKilled", False),
         "started_at": stamp("StartedAt"), "finished_at": stamp("FinishedAt")})


class RemoteEngine:
    def __init__(self, client: Client, pull=None) -> None:
        self.client = client
        self.pull = pull  # pull(image) for a create that finds no image (docker's run pulls first)

    # -- reading ----------------------------------------------------------------------------------
    def inspect(self, ref: str) -> dict:
        return self.client.call("GET", f"/containers/{_q(ref)}/json")

    def get(self, ref: str) -> Record:
        return record(self.inspect(ref))

    def list(self, all: bool = False) -> list[Record]:
        out = []
        for entry in self.client.call("GET", "/containers/json", {"all": all}) or []:
            with contextlib.suppress(NotFound):  # removed between the two calls (--rm)
                out.append(self.get(entry["Id"]))
        return out

    def image_inspect(self, ref: str) -> dict | None:
        try:
            return self.client.call("GET", f"/images/{_q(ref)}/json")
        except NotFound:
            return None

    def logs(self, ref: str, follow: bool = False, tail: int | None = None):
        """json-file entries again (``{"log", "stream", "time"}``): asked with timestamps, one frame
        per entry, so the CLI formats them as it formats local ones."""
        rec = self.get(ref)
        query = {"stdout": 1, "stderr": 1, "timestamps": 1, "follow": follow,
                 "tail": "all" if tail is None else tail}
        chunks = self.client.stream("GET", f"/containers/{rec.id}/logs", query)
        if rec.config["tty"]:
            return _tty_entries(chunks)
        return _framed_entries(chunks)

    def stats(self, ref: str) -> dict:
        s = self.client.call("GET", f"/containers/{_q(ref)}/stats", {"stream": 0, "one-shot": 1})
        rec = self.get(ref)
        mem = s.get("memory_stats") or {}
        return {"id": rec.id, "name": rec.name, "memory_usage": mem.get("usage", 0),
                "memory_limit": mem.get("limit") or None,
                "cpu_usage_ns": ((s.get("cpu_stats") or {}).get("cpu_usage") or {}).get("total_usage", 0),
                "pids": (s.get("pids_stats") or {}).get("current", 0),
                "pids_limit": (s.get("pids_stats") or {}).get("limit") or None}

    # -- changing ---------------------------------------------------------------------------------
    def create(self, spec) -> str:
        body = create_body(spec)
        query = {"name": spec.name}
        try:
            return self.client.call("POST", "/containers/create", query, body)["Id"]
        except NotFound as e:
            if self.pull is None or not str(e).startswith("No such image"):
                raise
        self.pull(spec.image)
        return self.client.call("POST", "/containers/create", query, body)["Id"]

    def start(self, ref: str, attach: bool = False):
        rec = self.get(ref)
        session = self.attach(rec.id, tty=rec.config["tty"]) if attach else None
        try:
            self.client.status("POST", f"/containers/{rec.id}/start")
        except BaseException:
            if session is not None:
                session.close()
            raise
        return session

    def attach(self, cid: str, *, tty: bool, stdin: bool = False, exit_code_of=None) -> StreamSession:
        query = {"stream": 1, "stdout": 1, "stderr": 1, "stdin": stdin}
        sock, first = self.client.hijack("POST", f"/containers/{cid}/attach", query)
        return StreamSession(
            sock, first, tty=tty, reply={"id": cid},
            exit_code_of=exit_code_of or (lambda: self.wait(cid)),
            resize=lambda h, w: self.client.status("POST", f"/containers/{cid}/resize", {"h": h, "w": w}),
            signal=lambda sig: self.client.status("POST", f"/containers/{cid}/kill", {"signal": sig}))

    def run_session(self, spec, attach: bool = True):
        """docker's ``run``: create, attach, wait (its headers first), start."""
        cid = self.create(spec)
        if not attach:
            self.client.status("POST", f"/containers/{cid}/start")
            return StreamSession(_closed(), b"", tty=False, exit_code_of=None, reply={"id": cid})
        waiter = []

        def exit_code() -> int:
            resp = waiter[0]
            try:
                data = resp.read()
            finally:
                resp.close()
                resp.vmvc_conn.close()
            try:
                body = json.loads(data)
                session.trace = body.get("VmvcTrace") or []  # the start's steps (run --trace)
                return int(body["StatusCode"])
            except (ValueError, KeyError, TypeError, AttributeError):
                raise VmvcError("the daemon ended the wait without an exit code") from None

        session = self.attach(cid, tty=spec.tty, stdin=spec.stdin, exit_code_of=exit_code)
        try:  # the wait's headers come at once; its body at the exit (it cannot miss it)
            waiter.append(self.client.request("POST", f"/containers/{cid}/wait",
                                              {"condition": "removed" if spec.auto_remove else "next-exit"}))
            self.client.status("POST", f"/containers/{cid}/start")
        except VmvcError as e:
            session.close()
            for resp in waiter:
                resp.close()
                resp.vmvc_conn.close()
            e.exit_code = _start_failure_code(str(e))
            raise
        return session

    def stop(self, ref: str, timeout: float = 10) -> bool:
        t = int(timeout) if timeout == int(timeout) else timeout
        return self.client.status("POST", f"/containers/{_q(ref)}/stop", {"t": t}) != 304

    def kill(self, ref: str, signal="KILL") -> None:
        self.client.status("POST", f"/containers/{_q(ref)}/kill", {"signal": signal})

    def remove(self, ref: str, force: bool = False) -> str:
        self.client.status("DELETE", f"/containers/{_q(ref)}", {"force": force})
        return ref

    def wait(self, ref: str, condition: str = "not-running") -> int:
        return int(self.client.call("POST", f"/containers/{_q(ref)}/wait", {"condition": condition})
                   ["StatusCode"])

    def exec(self, ref: str, cmd: list[str], env=None, user=None, workdir=None, tty: bool = False,
             stdin: bool = False) -> StreamSession:
        body = {"Cmd": cmd, "Env": env or None, "User": user or "", "WorkingDir": workdir or "", "Tty": tty,
                "AttachStdin": stdin, "AttachStdout": True, "AttachStderr": True}
        eid = self.client.call("POST", f"/containers/{_q(ref)}/exec", None,
                               {k: v for k, v in body.items() if v is not None})["Id"]
        sock, first = self.client.hijack("POST", f"/exec/{eid}/start", None, {"Detach": False, "Tty": tty})

        def exit_code() -> int:
            code = self.client.call("GET", f"/exec/{eid}/json").get("ExitCode")
            return 126 if code is None else int(code)

        return StreamSession(sock, first, tty=tty, reply={"id": eid}, exit_code_of=exit_code,
                             resize=lambda h, w: self.client.status("POST", f"/exec/{eid}/resize",
                                                                     {"h": h, "w": w}))


def _start_failure_code(message: str) -> int:
    """The docker CLI's exit code for a start that failed: 127 nothing to run, 126 not runnable."""
    m = message.lower()
    if "executable file not found" in m or "no such file or directory" in m or "not found" in m:
        return 127
    if "permission denied" in m or "cannot execute" in m:
        return 126
    return 125


def _q(ref: str) -> str:
    import urllib.parse

    return urllib.parse.quote(ref, safe="")


def _closed():
    import socket

    a, b = socket.socketpair()
    b.close()
    return a


def _framed_entries(chunks):
    from runtime.api_client.stdcopy import Demux

    demux = Demux()
    for data in chunks:
        for kind, payload in demux.feed(data):
            yield _entry("stdout" if kind == 1 else "stderr", payload)


def _tty_entries(chunks):
    """A TTY's log is one raw stream: split it back at each line's timestamp."""
    buf = b""
    for data in chunks:
        buf += data
        *lines, buf = buf.split(b"\n")
        for line in lines:
            yield _entry("stdout", line + b"\n")
    if buf:
        yield _entry("stdout", buf)


def _entry(stream: str, payload: bytes) -> dict:
    text = payload.decode("utf-8", "replace")
    stamp, sep, rest = text.partition(" ")
    if not sep or not stamp[:4].isdigit():
        return {"stream": stream, "log": text, "time": ""}
    return {"stream": stream, "log": rest, "time": stamp}

