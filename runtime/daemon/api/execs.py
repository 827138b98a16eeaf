"""``/containers/{id}/exec`` and ``/exec/{id}/…``: docker's two-step exec (create, then start) over the
engine's one-step :meth:`Engine.exec`. The daemon keeps each exec's config and, once it ends, its exit
code, so ``GET /exec/{id}/json`` (how the CLI and SDK learn the exit code) answers after the stream."""

from __future__ import annotations

import asyncio
import contextlib
import secrets

from runtime.daemon import streams
from runtime.daemon.api.containers import _record
from runtime.daemon.http import HTTPError
from runtime.daemon.routes import route

MAX_EXECS = 4096


@route("POST", "/containers/{ref}/exec")
async def exec_create(d, req, ref):
    rec = await _record(d, ref)
    body = await req.json()
    cmd = body.get("Cmd")
    if isinstance(cmd, str):
        cmd = [cmd]
    if not cmd or not isinstance(cmd, list) or not all(isinstance(c, str) for c in cmd):
        raise HTTPError(400, "No exec command specified")
    if not rec.running:
        raise HTTPError(409, f"container {rec.id} is not running")
    eid = secrets.token_hex(32)
    if len(d.execs) >= MAX_EXECS:  # forget the oldest finished ones
        for k in [k for k, v in d.execs.items() if not v["Running"]][: MAX_EXECS // 2]:
            del d.execs[k]
    d.execs[eid] = {
        "ID": eid, "ContainerID": rec.id, "Running": False, "ExitCode": None, "Pid": 0,
        "OpenStdin": bool(body.get("AttachStdin")), "OpenStdout": bool(body.get("AttachStdout", True)),
        "OpenStderr": bool(body.get("AttachStderr", True)), "CanRemove": False, "DetachKeys": "",
        "ProcessConfig": {"tty": bool(body.get("Tty")), "entrypoint": cmd[0], "arguments": cmd[1:],
                          "privileged": False, "user": body.get("User") or ""},
        "_env": body.get("Env") or [], "_workdir": body.get("WorkingDir") or None,
        "_session": None,
    }
    d.events.publish("container", "exec_create: " + " ".join(cmd), rec.id, {"name": rec.name})
    await req.send_json({"Id": eid}, 201)


def _get(d, eid: str) -> dict:
    ex = d.execs.get(eid)
    if ex is None:
        raise HTTPError(404, f"No such exec instance: {eid}")
    return ex


@route("POST", "/exec/{eid}/start")
async def exec_start(d, req, eid):
    ex = _get(d, eid)
    body = await req.json()
    if ex["Running"] or ex["ExitCode"] is not None:
        raise HTTPError(409, f"exec {eid} has already been started")
    pc = ex["ProcessConfig"]
    tty = bool(body.get("Tty", pc["tty"]))
    ex["Running"] = True
    try:
        session = await d.call(d.engine.exec, ex["ContainerID"], [pc["entrypoint"], *pc["arguments"]],
                               env=ex["_env"], user=pc["user"] or None, workdir=ex["_workdir"], tty=tty,
                               stdin=ex["OpenStdin"])
    except Exception:
        ex["Running"], ex["ExitCode"] = False, 126
        raise
    ex["Pid"] = session.reply.get("pid", 0)
    ex["_session"] = session

    def finished(code):
        ex["Running"] = False
        ex["ExitCode"] = code if code is not None else 137
        ex["_session"] = None

    if body.get("Detach"):
        async def drain():
            code = None
            while True:
                frames = await d.call(session.read)
                if not frames:
                    break
            code = session.exit_code
            finished(code)
            session.close()

        asyncio.ensure_future(drain())
        await req.send(200, b"", "application/json")
        return
    await req.upgrade("application/vnd.docker.raw-stream" if tty else
                      "application/vnd.docker.multiplexed-stream")
    await asyncio.sleep(0.01)
    want = tuple(k for k, on in ((1, ex["OpenStdout"]), (2, ex["OpenStderr"])) if on)
    await streams.pump(d, req, session, tty=tty, stdin=ex["OpenStdin"], want=want, on_exit=finished)


@route("GET", "/exec/{eid}/json")
async def exec_inspect(d, req, eid):
    ex = _get(d, eid)
    await req.send_json({k: v for k, v in ex.items() if not k.startswith("_")})


@route("POST", "/exec/{eid}/resize")
async def exec_resize(d, req, eid):
    ex = _get(d, eid)
    session = ex.get("_session")
    h, w = int(req.number("h", 0) or 0), int(req.number("w", 0) or 0)
    if session is not None and h > 0 and w > 0:
        with contextlib.suppress(OSError):
            await d.call(session.resize, h, w)
    await req.send(200, b"", "text/plain")
