"""The engine's side of the spawner: find it (or start it), send requests, stream sessions.

The first request for a state root starts its spawner: a double fork (so it is nobody's child and
outlives the CLI that started it) and ``exec`` of ``python -m runtime.containers.spawner``. That one
interpreter start is paid once per root, not per container.

Nothing here waits forever on a spawner that stopped answering: the first reply to a request must
come within ``REPLY_TIMEOUT`` (longer than the spawner's own start timeouts, so a slow start is
reported by the spawner, not cut off here), and a stream that is silent for ``LIVENESS_INTERVAL``
(a container that prints nothing for a while is normal) asks the spawner on a second connection
whether it is still alive, and gives up with one clear error if it is not.
"""

from __future__ import annotations

import os
import sys
import time

# The C socket module: ``socket.py`` adds selectors and enum wrappers the CLI's run path never needs
# (~2.5 ms of a ~30 ms ``vmvc run``). Connection errors are the same OSError subclasses. ``_socket`` is
# private to CPython: without it, the public module does the same (slower to import, same behaviour).
try:
    from _socket import AF_UNIX, SOCK_STREAM
    from _socket import socket as unix_socket
except ImportError:
    from socket import AF_UNIX, SOCK_STREAM
    from socket import socket as unix_socket

from runtime.containers import wire
from runtime.containers.state import Containers
from runtime.errors import VmvcError

LAUNCH_TIMEOUT = 30.0
REPLY_TIMEOUT = float(os.environ.get("VMVC_REPLY_TIMEOUT", 120))
LIVENESS_INTERVAL = 30.0  # a silent stream checks this often that the spawner still answers
PING_TIMEOUT = 10.0


def _alive(path: str) -> bool:
    """Whether the spawner at ``path`` answers a ping within ``PING_TIMEOUT``."""
    sock = unix_socket(AF_UNIX, SOCK_STREAM)
    sock.settimeout(PING_TIMEOUT)
    try:
        sock.connect(path)
        sock.sendall(wire.message({"op": "ping", "v": wire.PROTOCOL}))
        return bool(sock.recv(65536))
    except OSError:
        return False
    finally:
        sock.close()


class Session:
    """An open request: its first reply, then stream frames until ``{"exit": n}``."""

    def __init__(
        self, sock: unix_socket, reply: dict, decoder: wire.Decoder, pending: list, path: str = ""
    ) -> None:
        self.sock, self.reply, self.decoder, self.pending = sock, reply, decoder, pending
        self.path = path  # the spawner's socket, for liveness checks
        sock.settimeout(LIVENESS_INTERVAL)
        self.exit_code: int | None = None
        self.oom_killed = False
        self.trace: list = []  # the start's [[step, ms], ...] (runtime.containers.trace), with the exit

    def fileno(self) -> int:
        return self.sock.fileno()

    def read(self) -> list[tuple[int, bytes]]:
        """The next frames (blocking); ``[]`` once the stream ended."""
        if self.pending:
            out, self.pending = self.pending, []
            return self._note(out)
        while True:
            try:
                data = self.sock.recv(65536)
            except TimeoutError:  # silence: fine while the spawner answers
                if self.path and not _alive(self.path):
                    raise VmvcError(
                        "the container spawner stopped answering (see spawner.log in the state root)"
                    ) from None
                continue
            except (ConnectionResetError, OSError):
                data = b""
            if not data:
                return []
            frames = self.decoder.feed(data)
            if frames:
                return self._note(frames)

    def _note(self, frames):
        for kind, payload in frames:
            if kind == wire.JSON:
                msg = wire.decode_json(payload)
                if "exit" in msg:
                    self.exit_code = msg["exit"]
                    self.oom_killed = msg.get("oom_killed", False)
                    self.trace = msg.get("trace") or []
        return frames

    def frames(self):
        while True:
            got = self.read()
            if not got:
                return
            yield from got

    def _sendall(self, data: bytes) -> None:
        # blocking without a limit: the spawner stops reading stdin while the container does not
        # take it (back-pressure), for as long as that lasts; a partial send cannot be resumed
        self.sock.settimeout(None)
        try:
            self.sock.sendall(data)
        finally:
            self.sock.settimeout(LIVENESS_INTERVAL)

    def send(self, msg: dict) -> None:
        self._sendall(wire.message(msg))

    def send_stdin(self, data: bytes) -> None:
        self._sendall(wire.frame(wire.STDIN, data))

    def close_stdin(self) -> None:
        self.send_stdin(b"")

    def resize(self, rows: int, cols: int) -> None:
        self.send({"resize": [rows, cols]})

    def signal(self, sig) -> None:
        self.send({"signal": sig})

    def close(self) -> None:
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SpawnerClient:
    def __init__(self, table: Containers) -> None:
        self.table = table

    def connect(self, launch: bool = True) -> unix_socket:
        sock = unix_socket(AF_UNIX, SOCK_STREAM)
        try:
            sock.connect(self.table.socket_path)
            return sock
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            if not launch:
                raise
        self.launch()
        return self.connect(launch=False)

    def alive(self) -> bool:
        try:
            self.connect(launch=False).close()
            return True
        except OSError:
            return False

    def launch(self) -> None:
        """Start this root's spawner and wait until it serves (or find that one already does). The
        root's keeper (:mod:`runtime.containers.keeper`) forks it if there is one; otherwise a new
        keeper is double-forked with the spawner under it (so neither is the caller's child). One
        client at a time decides (:func:`keeper.launching`), so two first commands make one keeper."""
        from runtime.containers import keeper

        with keeper.launching(self.table.root, LAUNCH_TIMEOUT):
            if not self.alive():  # another client may have started it while this one waited
                self._launch()

    def _launch(self) -> None:
        from runtime.containers import keeper

        r, w = os.pipe()
        argv = [sys.executable, "-m", "runtime.containers.spawner", self.table.root]
        if keeper.ask(self.table.root, w, argv):
            os.close(w)
            self._await_launch(r)
            return
        log = os.open(
            os.path.join(self.table.root, "spawner.log"),
            os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC,
            0o600,
        )
        userns = None
        if os.geteuid() != 0:  # rootless mode: the spawner gets a user namespace (runtime.rootless)
            from runtime.rootless.launch import UserNamespace

            userns = UserNamespace(os.path.dirname(self.table.root))
        pid = keeper.launch(self.table.root, w, [*argv, str(w)], log, userns.enter if userns else None)
        os.close(w)
        os.close(log)
        if userns is not None:
            try:
                userns.map(pid, os.path.join(self.table.root, "spawner.log"))
            except BaseException:
                os.close(r)
                raise
        os.waitpid(pid, 0)
        self._await_launch(r)

    def _await_launch(self, r: int) -> None:
        deadline = time.monotonic() + LAUNCH_TIMEOUT
        try:
            import select

            if select.select([r], [], [], LAUNCH_TIMEOUT)[0]:
                os.read(r, 2)  # "ok" when serving; EOF if it found another spawner already serving
        finally:
            os.close(r)
        while time.monotonic() < deadline:
            if self.alive():
                return
            time.sleep(0.01)
        raise VmvcError(
            f"the container spawner did not start (see {os.path.join(self.table.root, 'spawner.log')})"
        )

    def session(self, msg: dict, launch: bool = True, retry: bool = True) -> Session:
        sock = self.connect(launch=launch)
        sock.settimeout(REPLY_TIMEOUT)
        decoder = wire.Decoder()
        try:
            sock.sendall(wire.message({**msg, "v": wire.PROTOCOL}))
            return self._first_reply(sock, decoder, msg, launch, retry)
        except TimeoutError:
            sock.close()
            raise VmvcError(
                f"the container spawner did not answer within {REPLY_TIMEOUT:g} s "
                f"(see {os.path.join(self.table.root, 'spawner.log')})"
            ) from None

    def _first_reply(self, sock: unix_socket, decoder: wire.Decoder, msg: dict, launch: bool, retry: bool):
        while True:
            data = sock.recv(65536)
            if not data:
                sock.close()
                raise VmvcError("the container spawner closed the connection")
            frames = decoder.feed(data)
            for i, (kind, payload) in enumerate(frames):
                if kind == wire.JSON:
                    reply = wire.decode_json(payload)
                    if reply.get("restart") and retry:  # an older spawner made way for ours
                        sock.close()
                        self._wait_gone()
                        return self.session(msg, launch=launch, retry=False)
                    return Session(sock, reply, decoder, frames[i + 1 :], self.table.socket_path)

    def _wait_gone(self, seconds: float = 10.0) -> None:
        deadline = time.monotonic() + seconds
        while os.path.exists(self.table.socket_path) and time.monotonic() < deadline:
            time.sleep(0.005)

    def request(self, msg: dict, launch: bool = True) -> dict:
        with self.session(msg, launch=launch) as s:
            return s.reply
