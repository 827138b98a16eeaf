"""``/containers/…``: create, start, attach, wait, logs, stop, kill, restart, rm, list, inspect, top,
stats, resize, prune, in the request orders the docker CLI and SDK use (see docs/engine-api.md)."""

from __future__ import annotations

import asyncio
import contextlib
import time

from runtime.daemon import streams
from runtime.daemon.api.shapes import container_matches, filters, list_entry, spec_from_create
from runtime.daemon.http import HTTPError
from runtime.daemon.routes import route
from runtime.errors import NotFound


def _started(d, cid: str) -> asyncio.Event:
    ev = d.__dict__.setdefault("start_events", {}).get(cid)
    if ev is None:
        ev = d.start_events[cid] = asyncio.Event()
    return ev


def _mark_started(d, rec, action: str = "start") -> None:
    runs = d.__dict__.setdefault("runs", {})
    runs[rec.id] = runs.get(rec.id, 0) + 1
    _started(d, rec.id).set()
    _event(d, rec, action)


async def _record(d, ref: str):
    try:
        return await d.call(d.engine.get, ref)
    except NotFound:
        raise HTTPError(404, f"No such container: {ref}") from None


def _event(d, rec, action: str, **extra):
    d.events.publish("container", action, rec.id,
                     {"name": rec.name, "image": rec.config.get("image", ""), **extra})


def _died(d, rec, code, removed: bool = False) -> None:
    """``die`` (and ``destroy`` for ``--rm``) once per run, whoever saw the exit first."""
    seen = d.__dict__.setdefault("deaths", {})
    run = d.__dict__.setdefault("runs", {}).get(rec.id, 0)
    if seen.get(rec.id) == run:
        return
    if rec.id in d.__dict__.get("starting", ()):  # exited before the start's answer: start first, as dockerd
        d.starting.discard(rec.id)
        _mark_started(d, rec)
        run = d.runs[rec.id]
    seen[rec.id] = run
    _event(d, rec, "die", exitCode=str(code))
    if removed:
        _event(d, rec, "destroy")


@route("POST", "/containers/create")
async def create(d, req):
    body = await req.json()
    spec = spec_from_create(body, req.arg("name"))
    from runtime.images import reference

    ref = spec.image
    registry_set = bool(d.config.get("hub") or d.config.get("registry-mirrors"))
    found = await d.store_call(_find_or_builtin, d.store, ref, not registry_set)
    if found is None:
        shown = reference.familiar(reference.normalise(ref)) if ":" in ref else f"{ref}:latest"
        raise HTTPError(404, f"No such image: {shown}")
    cid = await d.call(d.engine.create, spec)
    rec = await d.call(d.engine.get, cid)
    _event(d, rec, "create")
    await req.send_json({"Id": cid, "Warnings": []}, 201)


def _find_or_builtin(store, ref: str, builtins: bool = True):
    """The local image; vmvc's own images count as local unless a registry is configured (then they
    are pulled from it, as in the tutorial's HelloWorld flow)."""
    from runtime.images import builtin, reference

    img = store.find(ref)
    if img is None and builtins and reference.normalise(ref) in builtin.BUILTINS:
        img = store.resolve(ref)  # vmvc's own images are always "local"
    return img


@route("GET", "/containers/json")
async def list_containers(d, req):
    f = filters(req)
    records = await d.call(d.engine.list, req.flag("all") or bool(f.get("status")))
    out = [list_entry(r) for r in records if container_matches(r, f)]
    out.sort(key=lambda e: e["Created"], reverse=True)
    limit = int(req.number("limit", -1) or -1)
    await req.send_json(out[:limit] if limit > 0 else out)


@route("GET", "/containers/{ref}/json")
async def inspect(d, req, ref):
    await _record(d, ref)
    await req.send_json(await d.call(d.engine.inspect, ref))


@route("POST", "/containers/{ref}/start")
async def start(d, req, ref):
    rec = await _record(d, ref)
    if rec.running:
        await req.send(304, None)
        return
    starting = d.__dict__.setdefault("starting", set())
    starting.add(rec.id)
    try:
        await d.call(d.engine.start, rec.id)
    except BaseException:
        starting.discard(rec.id)
        raise
    if rec.id in starting:  # else a quick exit's die has sent the start first (_died)
        starting.discard(rec.id)
        _mark_started(d, rec)
    await req.send(204, None)


@route("POST", "/containers/{ref}/attach")
async def attach(d, req, ref):
    rec = await _record(d, ref)
    tty = rec.config.get("tty", False)
    want = tuple(k for k, flag in ((1, "stdout"), (2, "stderr")) if req.flag(flag))
    stdin = req.flag("stdin") and rec.config.get("stdin", False)
    if not req.flag("stream") and not req.flag("logs"):
        raise HTTPError(400, "attach needs stream=1 or logs=1")
    session = await d.call(d.engine.attach, rec.id, True)
    ready = _started(d, rec.id)
    if rec.running:
        ready.set()
    if tty:
        d.__dict__.setdefault("tty_sessions", {})[rec.id] = session
    await req.upgrade("application/vnd.docker.raw-stream" if tty else
                      "application/vnd.docker.multiplexed-stream")
    await asyncio.sleep(0.01)  # the SDK reads the 101 on its own first (a known client quirk)
    try:
        code = await streams.pump(d, req, session, tty=tty, stdin=stdin, want=want or (1, 2),
                                  stdin_ready=ready)
        if code is not None:
            _died(d, rec, code, removed=rec.config.get("auto_remove", False))
    finally:
        d.__dict__.get("tty_sessions", {}).pop(rec.id, None)


@route("POST", "/containers/{ref}/wait")
async def wait(d, req, ref):
    rec = await _record(d, ref)
    condition = req.arg("condition") or "not-running"
    if condition not in ("not-running", "next-exit", "removed"):
        raise HTTPError(400, f"invalid condition: {condition!r}")
    session = await d.call(d.engine.wait_session, rec.id, condition)
    await req.start_stream()  # headers at once: the CLI waits for them before it sends start
    waiter = asyncio.ensure_future(d.call(d.engine.wait_result, session))
    gone = asyncio.ensure_future(req.reader.read(1))
    try:
        done, _ = await asyncio.wait({waiter, gone}, return_when=asyncio.FIRST_COMPLETED)
        if waiter not in done:  # the client went away
            session.close()
            return
        try:
            code, error = waiter.result(), None
        except Exception as e:
            code, error = -1, {"Message": str(e)}
        body = {"StatusCode": code, "Error": error}
        if getattr(session, "trace", None):  # vmvc's own key: the start's steps (vmvc -H … run --trace)
            body["VmvcTrace"] = session.trace
        await req.chunk_json(body)
        await req.end_stream()
        _died(d, rec, code, removed=condition == "removed" or rec.config.get("auto_remove", False))
    finally:
        gone.cancel()
        session.close()


@route("GET", "/containers/{ref}/logs")
async def logs(d, req, ref):

    rec = await _record(d, ref)
    tty = rec.config.get("tty", False)
    want = {s for s, flag in (("stdout", "stdout"), ("stderr", "stderr")) if req.flag(flag)}
    if not want:
        raise HTTPError(400, "you must choose at least one stream")
    tail = req.arg("tail", "all")
    tail_n = None if tail in ("all", "", None) else int(req.number("tail"))
    since, until = req.number("since"), req.number("until")
    follow = req.flag("follow")
    stamps = req.flag("timestamps")
    readers = d.__dict__.setdefault("log_readers", {})
    readers[rec.id] = readers.get(rec.id, 0) + 1  # a removal waits for us (see remove)
    try:
        await _stream_logs(d, req, rec, tty, want, tail_n, since, until, follow, stamps)
    finally:
        readers[rec.id] -= 1
        if not readers[rec.id]:
            del readers[rec.id]


async def _stream_logs(d, req, rec, tty, want, tail_n, since, until, follow, stamps) -> None:
    from runtime.containers import logs as logfile

    it = await d.call(d.engine.logs, rec.id, follow, tail_n)
    await req.start_stream(200, "application/vnd.docker.raw-stream" if tty else
                           "application/vnd.docker.multiplexed-stream")

    def batch(n=512):
        out = []
        for entry in it:
            out.append(entry)
            if len(out) >= n or follow:
                break
        return out

    from runtime.images.shapes import epoch

    while True:
        entries = await d.call(batch)
        if not entries:
            break
        buf = bytearray()
        for e in entries:
            if e.get("stream") not in want:
                continue
            t = epoch(e.get("time", ""))
            if (since and t < since) or (until and t > until):
                continue
            data = logfile.format_entry(e, stamps)
            buf += data if tty else streams.docker_frame(1 if e["stream"] == "stdout" else 2, data)
        await req.chunk(bytes(buf))
    await req.end_stream()


@route("POST", "/containers/{ref}/stop")
async def stop(d, req, ref):
    rec = await _record(d, ref)
    t = req.number("t", 10)
    stopped = await d.call(d.engine.stop, rec.id, t if t is not None and t >= 0 else 10)
    if not stopped:
        await req.send(304, None)
        return
    _event(d, rec, "stop")
    await req.send(204, None)


@route("POST", "/containers/{ref}/kill")
async def kill(d, req, ref):
    rec = await _record(d, ref)
    sig = req.arg("signal") or "KILL"
    if sig.isdigit():
        sig = int(sig)
    await d.call(d.engine.kill, rec.id, sig)
    _event(d, rec, "kill", signal=str(sig))
    await req.send(204, None)


@route("POST", "/containers/{ref}/restart")
async def restart(d, req, ref):
    rec = await _record(d, ref)
    await d.call(d.engine.stop, rec.id, req.number("t", 10))
    await d.call(d.engine.start, rec.id)
    _mark_started(d, rec, "restart")
    await req.send(204, None)


@route("DELETE", "/containers/{ref}")
async def remove(d, req, ref):
    rec = await _record(d, ref)
    # The SDK's run asks for the logs, waits, removes, and only then reads the logs: a logs stream
    # still reading this container's log finishes first (docker keeps the file open for it).
    for _ in range(0 if rec.running else 200):
        if not d.__dict__.get("log_readers", {}).get(rec.id):
            break
        await asyncio.sleep(0.05)
    await d.call(d.engine.remove, rec.id, req.flag("force"))
    for table in ("start_events", "runs", "deaths"):
        d.__dict__.get(table, {}).pop(rec.id, None)
    _event(d, rec, "destroy")
    await req.send(204, None)


@route("POST", "/containers/prune")
async def prune(d, req):
    records = await d.call(d.engine.list, True)
    gone = []
    for r in records:
        if not r.running:
            with contextlib.suppress(NotFound):
                await d.call(d.engine.remove, r.id)
                gone.append(r.id)
    await req.send_json({"ContainersDeleted": gone or None, "SpaceReclaimed": 0})


def _pids(rec) -> list[int]:
    from runtime.cgroups import manager

    cg = rec.state.get("cgroup")
    pids: list[int] = []
    if cg:
        for path in manager().procs_files(cg)[:1]:
            with contextlib.suppress(OSError), open(path) as f:
                pids = [int(x) for x in f.read().split()]
    return pids


@route("GET", "/containers/{ref}/top")
async def top(d, req, ref):
    import psutil

    rec = await _record(d, ref)
    if not rec.running:
        raise HTTPError(409, f"container {rec.id} is not running")

    def rows(pids):
        out = []
        for pid in sorted(pids):
            with contextlib.suppress(psutil.Error):
                p = psutil.Process(pid)
                cpu = p.cpu_times()
                secs = int(cpu.user + cpu.system)
                out.append([p.username(), str(pid), str(p.ppid()), "0",
                            time.strftime("%H:%M", time.localtime(p.create_time())), "?",
                            f"{secs // 3600:02}:{secs // 60 % 60:02}:{secs % 60:02}",
                            " ".join(p.cmdline()) or p.name()])
        return out

    pids = await d.call(_pids, rec)
    await req.send_json({"Titles": ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
                         "Processes": await d.call(rows, pids)})


def _stats_shape(rec, s: dict, pre: dict | None) -> dict:
    now = time.time()
    ncpu = len(__import__("os").sched_getaffinity(0))

    def cpu(x):
        return {"cpu_usage": {"total_usage": x["cpu_usage_ns"] if x else 0, "usage_in_kernelmode": 0,
                              "usage_in_usermode": 0},
                "system_cpu_usage": int(x["system_ns"]) if x else 0, "online_cpus": ncpu,
                "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}

    return {
        "read": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + "Z",
        "preread": "0001-01-01T00:00:00Z", "name": "/" + rec.name, "id": rec.id,
        "pids_stats": {"current": s.get("pids", 0), "limit": s.get("pids_limit") or 0},
        "cpu_stats": cpu(s), "precpu_stats": cpu(pre),
        "memory_stats": {"usage": s.get("memory_usage", 0),
                         "limit": s.get("memory_limit") or _memtotal(), "stats": {}},
        "blkio_stats": {}, "networks": {}, "num_procs": 0, "storage_stats": {},
    }


def _memtotal() -> int:
    from runtime.daemon.api.system import _meminfo_total

    return _meminfo_total()


def _sample(d, cid):
    s = d.engine.stats(cid)
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    s["system_ns"] = sum(int(x) for x in fields) * 10_000_000  # USER_HZ=100 ticks -> ns
    return s


@route("GET", "/containers/{ref}/stats")
async def stats(d, req, ref):
    rec = await _record(d, ref)
    stream = req.flag("stream", True)
    one_shot = req.flag("one-shot")
    if not stream:
        pre = None if one_shot else await d.call(_sample, d, rec.id)
        if pre is not None:
            await asyncio.sleep(1.0)  # two samples make a CPU percentage, as dockerd does
        await req.send_json(_stats_shape(rec, await d.call(_sample, d, rec.id), pre))
        return
    await req.start_stream()
    pre = None
    while True:
        s = await d.call(_sample, d, rec.id)
        await req.chunk_json(_stats_shape(rec, s, pre))
        pre = s
        r = await d.call(d.engine.get, rec.id)
        if not r.running:
            break
        await asyncio.sleep(1.0)
    await req.end_stream()


@route("POST", "/containers/{ref}/resize")
async def resize(d, req, ref):
    rec = await _record(d, ref)
    h, w = int(req.number("h", 0) or 0), int(req.number("w", 0) or 0)
    session = d.__dict__.get("tty_sessions", {}).get(rec.id)
    if session is not None and h > 0 and w > 0:
        with contextlib.suppress(OSError):
            await d.call(session.resize, h, w)
    await req.send(200, b"", "text/plain")
