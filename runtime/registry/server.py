"""A local registry: Debian's ``docker-registry`` (distribution 2.8) on loopback, for offline classrooms,
tests and the pull/mirror benchmarks. As the "hub" it serves vmvc's own images; with ``upstream`` it
is a pull-through cache (``proxy.remoteurl``), which is what a registry mirror is."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from runtime.errors import VmvcError

BINARY = "docker-registry"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalRegistry:
    """``with LocalRegistry() as reg: reg.url`` — started on 127.0.0.1, stopped and removed after."""

    def __init__(self, directory: str | None = None, port: int | None = None, upstream: str | None = None,
                 htpasswd: str | None = None):
        self.binary = shutil.which(BINARY) or "/usr/bin/" + BINARY
        if not os.path.exists(self.binary):
            raise VmvcError("docker-registry is not installed (apt-get install docker-registry)")
        self.owned = directory is None
        self.dir = directory or tempfile.mkdtemp(prefix="vmvc-registry-")
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.host = f"127.0.0.1:{self.port}"
        lines = ["version: 0.1", "log:", "  level: warn", "storage:", "  filesystem:",
                 f"    rootdirectory: {self.dir}/data", "  delete:", "    enabled: true", "http:",
                 f"  addr: 127.0.0.1:{self.port}", "  headers:", "    X-Content-Type-Options: [nosniff]"]
        if upstream:
            lines += ["proxy:", f"  remoteurl: {upstream}"]
        if htpasswd:
            lines += ["auth:", "  htpasswd:", "    realm: vmvc", f"    path: {htpasswd}"]
        self.config = os.path.join(self.dir, "config.yml")
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.log = os.path.join(self.dir, "registry.log")
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 20.0) -> LocalRegistry:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([self.binary, "serve", self.config], stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise VmvcError(f"docker-registry exited: {self.tail()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return self
            time.sleep(0.05)
        self.stop()
        raise VmvcError("docker-registry did not start listening in time")

    def tail(self) -> str:
        try:
            with open(self.log, errors="replace") as f:
                return (f.read().strip().splitlines() or ["(no output)"])[-1][:200]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if self.owned:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> LocalRegistry:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc) -> None:
        self.stop()


def seed(store, registry_host: str, images=("hello-world", "busybox"), config: dict | None = None) -> list:
    """Push vmvc's own images as ``library/NAME:latest`` (the hub's names for them)."""
    from runtime.registry.push import push

    out = []
    for name in images:
        existed = store.find(name) is not None
        image = store.resolve(name)
        target = f"{registry_host}/library/{name}:latest"
        store.tag(image.id, target)
        try:
            out.append(push(store, target, config=config))
        finally:
            with contextlib.suppress(Exception):
                store.remove(target)
            if not existed:  # the local store stays as it was: a run there pulls from this registry
                with contextlib.suppress(Exception):
                    store.remove(name)
    return out
