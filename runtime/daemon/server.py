"""The daemon's life: listen on a Unix socket, read requests, dispatch them, map errors, stop cleanly.

One engine, several front ends: the daemon drives the same :class:`runtime.containers.Engine` the CLI
uses (its spawner keeps the containers), so stopping the daemon stops no container, and the next
daemon, or the plain ``vmvc`` CLI, sees them all. Engine calls block (they talk to the spawner over a
socket), so they run on a thread pool large enough for many long streams (attach, logs -f, wait,
events) while the event loop keeps answering everyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import stat
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from runtime.daemon import routes
from runtime.daemon.events import EventBus
from runtime.daemon.http import HTTPError, Request, read_request
from runtime.errors import Conflict, NotFound, VmvcError

API_VERSION = "1.45"
MIN_API_VERSION = "1.24"


def _check_version(version: str | None) -> None:
    """dockerd's answer to a ``/vX.Y`` prefix outside what it serves (a client must negotiate down)."""
    if version is None:
        return
    v = tuple(int(x) for x in version.split("."))
    if v > tuple(int(x) for x in API_VERSION.split(".")):
        raise HTTPError(400, f"client version {version} is too new. Maximum supported API version is "
                             f"{API_VERSION}")
    if v < tuple(int(x) for x in MIN_API_VERSION.split(".")):
        raise HTTPError(400, f"client version {version} is too old. Minimum supported API version is "
                             f"{MIN_API_VERSION}, please upgrade your client to a newer version")
DEFAULT_SOCKET = "/run/vmvc/vmvc.sock"


class Daemon:
    def __init__(self, socket_path: str = DEFAULT_SOCKET, *, root: str | None = None, trace: bool = False,
                 config: dict | None = None, config_file: str | None = None, log=None):
        from runtime.containers import Engine
        from runtime.images import open_store

        self.socket_path = socket_path
        self.engine = Engine(root)
        self.store = open_store()
        self.store_lock = threading.Lock()  # image-store changes one at a time
        self.trace = trace
        self.config = config or {}
        self.config_file = config_file
        self.events = EventBus()
        self.execs: dict = {}
        self.started: dict[str, float] = {}
        self.pool = ThreadPoolExecutor(max_workers=256, thread_name_prefix="vmvc-api")
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.server: asyncio.AbstractServer | None = None
        self.stopping: asyncio.Event | None = None
        self.connections: set[asyncio.Task] = set()

    # -- helpers for handlers ---------------------------------------------------------------------
    async def call(self, fn, *args, **kw):
        """Run a blocking engine/store call on the pool."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, partial(fn, *args, **kw))

    async def store_call(self, fn, *args, **kw):
        def locked():
            with self.store_lock:
                return fn(*args, **kw)

        return await self.call(locked)

    # -- serving ----------------------------------------------------------------------------------
    async def serve(self, ready=None) -> None:
        import runtime.daemon.api  # noqa: F401  (registers the routes)

        self.stopping = asyncio.Event()
        os.makedirs(os.path.dirname(self.socket_path) or ".", mode=0o755, exist_ok=True)
        self._claim_socket()
        old_umask = os.umask(0o117)
        try:
            self.server = await asyncio.start_unix_server(self._connection, path=self.socket_path,
                                                          limit=64 * 1024)
        finally:
            os.umask(old_umask)
        os.chmod(self.socket_path, 0o660)  # root-owned, like /var/run/docker.sock
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        self.log(f"vmvc daemon: API {API_VERSION} listening on unix://{self.socket_path}")
        if ready:
            ready()
        try:
            await self.stopping.wait()
        finally:
            await self._close()

    def _claim_socket(self) -> None:
        """Refuse to steal a live daemon's socket; remove a stale one."""
        import socket

        try:
            st = os.lstat(self.socket_path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            raise VmvcError(f"{self.socket_path} exists and is not a socket")
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(self.socket_path)
        except OSError:
            os.unlink(self.socket_path)
            return
        finally:
            s.close()
        raise VmvcError(f"another daemon is already listening on {self.socket_path}")

    def reload(self) -> None:
        """SIGHUP: read the config again (registry mirrors…), as the tutorial's daemon restart does;
        a bad file keeps the old config."""
        from runtime.registry import config as daemon_config

        try:
            self.config = daemon_config.load(self.config_file)
            self.log(f"vmvc daemon: configuration reloaded (registry-mirrors: "
                     f"{self.config.get('registry-mirrors') or []})")
        except VmvcError as e:
            self.log(f"vmvc daemon: configuration not reloaded: {e}")

    async def _close(self) -> None:
        self.log("vmvc daemon: stopping (containers keep running; the next daemon or vmvc CLI adopts them)")
        if self.server:
            self.server.close()
        for t in list(self.connections):
            t.cancel()
        if self.connections:
            await asyncio.wait(self.connections, timeout=2)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)
        self.pool.shutdown(wait=False, cancel_futures=True)

    async def _connection(self, reader, writer) -> None:
        task = asyncio.current_task()
        self.connections.add(task)
        try:
            while True:
                try:
                    req = await read_request(reader, writer)
                except HTTPError as e:
                    await _send_error(writer, e.status, e.message)
                    break
                if req is None:
                    break
                await self._handle(req)
                if req.hijacked or req.headers.get("connection", "").lower() == "close":
                    break
                if req.body_mode != "none":  # a handler left the body unread: resync by draining
                    with contextlib.suppress(HTTPError):
                        async for _ in req.chunks(limit=64 << 20):
                            pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self.connections.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    async def _handle(self, req: Request) -> None:
        t0, arrived = time.perf_counter(), time.time()
        version, path = routes.split_version(req.path)
        req.extra["api_version"] = API_VERSION
        status = 0
        try:
            _check_version(version)
            handler, found = routes.find(req.method, path)
            if handler is None:
                if found:
                    raise HTTPError(404, f"{req.method} {path} is not supported")
                raise HTTPError(404, f"page not found: {req.method} {path} is not part of vmvc's API")
            await handler(self, req, **found)
        except HTTPError as e:
            status = e.status
            await self._error(req, e.status, e.message)
        except NotFound as e:
            status = 404
            await self._error(req, 404, str(e))
        except Conflict as e:
            status = 409
            await self._error(req, 409, str(e))
        except VmvcError as e:
            status = 400 if getattr(e, "exit_code", 125) in (2,) else 500
            msg = str(e)
            if _looks_like_bad_input(msg):
                status = 400
            await self._error(req, status, msg)
        except (ConnectionError, asyncio.IncompleteReadError):
            status = -1
        except Exception as e:  # a bug: answer 500, keep serving
            status = 500
            self.log(f"vmvc daemon: internal error on {req.method} {path}: {type(e).__name__}: {e}")
            await self._error(req, 500, f"internal error: {type(e).__name__}: {e}")
        if self.trace:  # one line per call, stamped with its arrival time: sort by it to see the order
            took = (time.perf_counter() - t0) * 1000
            q = ("?" + "&".join(f"{k}={v}" for k, v in req.query.items())) if req.query else ""
            code = req.status or status or "-"
            stamp = time.strftime("%H:%M:%S", time.localtime(arrived)) + f".{int(arrived * 1000) % 1000:03d}"
            self.log(f"trace {stamp} {req.method:6} {path}{q} -> {code} {took:8.2f} ms")

    async def _error(self, req: Request, status: int, message: str) -> None:
        if req.answered:
            return
        with contextlib.suppress(ConnectionError):
            await req.send(status, json.dumps({"message": message}).encode() + b"\n")


def _looks_like_bad_input(msg: str) -> bool:
    m = msg.lower()
    return any(w in m for w in ("invalid", "minimum memory", "range of cpus", "must be", "no command",
                                "is required", "unknown"))


async def _send_error(writer, status: int, message: str) -> None:
    body = json.dumps({"message": message}).encode() + b"\n"
    with contextlib.suppress(Exception):
        writer.write(f"HTTP/1.1 {status} Bad Request\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        await writer.drain()


def run(socket_path: str = DEFAULT_SOCKET, **kw) -> int:
    """Serve until SIGTERM/SIGINT (``vmvc daemon``)."""
    daemon = Daemon(socket_path, **kw)
    asyncio.run(daemon.serve())
    return 0
