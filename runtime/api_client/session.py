"""A hijacked attach or exec stream, shaped like the engine's own session (``read`` -> frames,
``send_stdin``, ``close_stdin``, ``resize``, ``signal``), so the CLI's one pump serves both paths.

The stream ends when the daemon shuts its write side (the process exited); the exit code then comes
from a second call (``/wait``'s answer for a container, ``GET /exec/{id}/json`` for an exec).
"""

from __future__ import annotations

import contextlib
import socket

from runtime.api_client.stdcopy import Demux
from runtime.errors import VmvcError


class StreamSession:
    def __init__(self, sock: socket.socket, first: bytes, *, tty: bool, exit_code_of, resize=None,
                 signal=None, reply: dict | None = None) -> None:
        self.sock = sock
        self.demux = Demux(raw=tty)
        self.pending = self.demux.feed(first) if first else []
        self.exit_code_of = exit_code_of  # called once at the end of the stream
        self._resize, self._signal = resize, signal
        self.reply = reply or {}
        self.exit_code: int | None = None
        self.trace: list = []

    def fileno(self) -> int:
        return self.sock.fileno()

    def read(self) -> list[tuple[int, bytes]]:
        """The next frames (blocking); ``[]`` once the stream ended, with ``exit_code`` set."""
        if self.pending:
            out, self.pending = self.pending, []
            return out
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                if self.exit_code is None and self.exit_code_of is not None:
                    self.exit_code = self.exit_code_of()
                return []
            frames = self.demux.feed(data)
            if frames:
                return frames

    def send_stdin(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise VmvcError(f"the container's stdin closed: {e.strerror or e}") from None

    def close_stdin(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)

    def resize(self, rows: int, cols: int) -> None:
        if self._resize is not None:
            with contextlib.suppress(VmvcError):
                self._resize(rows, cols)

    def signal(self, sig) -> None:
        if self._signal is not None:
            with contextlib.suppress(VmvcError):
                self._signal(sig)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
