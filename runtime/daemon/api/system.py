"""``/_ping``, ``/version``, ``/info``, ``/events``, ``/system/df``: who the daemon is and what it holds."""

from __future__ import annotations

import asyncio
import os
import platform
import time

from runtime.daemon import server
from runtime.daemon.api.shapes import filters
from runtime.daemon.events import matches
from runtime.daemon.routes import route

PING_HEADERS = {"Builder-Version": "1", "Swarm": "inactive",
                "Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache"}


@route("GET", "/_ping")
async def ping(d, req):
    await req.send(200, b"OK", "text/plain; charset=utf-8", PING_HEADERS)


@route("HEAD", "/_ping")
async def ping_head(d, req):
    await req.send(200, b"", "text/plain; charset=utf-8", {**PING_HEADERS, "Content-Length": "0"})


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("vmvc")
    except Exception:
        return "0"


@route("GET", "/version")
async def version(d, req):
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    common = {"Version": _version(), "ApiVersion": server.API_VERSION,
              "MinAPIVersion": server.MIN_API_VERSION,
              "GitCommit": "", "GoVersion": "python" + platform.python_version(), "Os": "linux",
              "Arch": arch, "KernelVersion": platform.release(), "BuildTime": "", "Experimental": False}
    details = {k: str(v).lower() if isinstance(v, bool) else v for k, v in common.items() if k != "Version"}
    await req.send_json({"Platform": {"Name": "vmvc"},
                         "Components": [{"Name": "Engine", "Version": _version(), "Details": details}],
                         **common})


def _meminfo_total() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def _cgroup_version() -> str:
    return "2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "1"


@route("GET", "/info")
async def info(d, req):
    records = await d.call(d.engine.list, True)
    running = sum(r.running for r in records)
    images = await d.call(d.store.images)
    mirrors = list(d.config.get("registry-mirrors") or [])
    await req.send_json({
        "ID": "vmvc", "Name": platform.node(), "Containers": len(records), "ContainersRunning": running,
        "ContainersPaused": 0, "ContainersStopped": len(records) - running, "Images": len(images),
        "Driver": "overlay2", "DockerRootDir": d.engine.root, "ServerVersion": _version(),
        "OperatingSystem": _os_name(), "OSType": "linux", "Architecture": platform.machine(),
        "KernelVersion": platform.release(), "NCPU": os.cpu_count(), "MemTotal": _meminfo_total(),
        "CgroupDriver": "cgroupfs", "CgroupVersion": _cgroup_version(), "LoggingDriver": "json-file",
        "SecurityOptions": [], "Runtimes": {"vmvc": {"path": "vmvc"}}, "DefaultRuntime": "vmvc",
        "Swarm": {"LocalNodeState": "inactive", "ControlAvailable": False, "NodeID": "",
                  "RemoteManagers": None},
        "RegistryConfig": {"Mirrors": mirrors, "IndexConfigs": {},
                           "InsecureRegistryCIDRs": list(d.config.get("insecure-registries") or [])},
        "Plugins": {"Volume": [], "Network": [], "Log": ["json-file"]}, "Warnings": [],
        "Labels": [], "ExperimentalBuild": False, "LiveRestoreEnabled": True, "Debug": d.trace,
        "SystemTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    })


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


@route("GET", "/events")
async def events(d, req):
    """Streamed until the client goes away or ``until`` passes; ``since`` replays what is kept."""
    f = filters(req)
    since = req.number("since")
    until = req.number("until")
    q = d.events.subscribe()
    try:
        await req.start_stream()
        if since is not None:
            for ev in d.events.recent:
                if ev["time"] >= since and (until is None or ev["time"] <= until) and matches(ev, f):
                    await req.chunk_json(ev)
        while True:
            timeout = None if until is None else max(0.0, until - time.time())
            try:
                ev = await asyncio.wait_for(q.get(), timeout)
            except TimeoutError:
                break
            if matches(ev, f):
                await req.chunk_json(ev)
        await req.end_stream()
    finally:
        d.events.unsubscribe(q)


@route("GET", "/system/df")
async def system_df(d, req):
    from runtime.images import shapes

    def gather():
        images = d.store.images()
        return [shapes.summary(d.store, i) for i in images], d.engine.list(True)

    imgs, records = await d.call(gather)
    from runtime.daemon.api.shapes import list_entry

    usage = await d.call(d.store.disk_usage)
    await req.send_json({"LayersSize": usage["LayersSize"], "Images": imgs,
                         "Containers": [list_entry(r) for r in records], "Volumes": [],
                         "BuildCache": [],
                         "VmvcDiskUsage": usage})  # shared-layer savings, for vmvc's own system df
