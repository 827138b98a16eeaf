"""One client connection of the spawner: requests in, replies and stream frames out, never blocking.

Replies are queued and flushed when the socket is writable, so a client that stops reading holds
only its own buffer, not the loop.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

from runtime.containers import wire
from runtime.containers.spawner.loop import READ, WRITE, Loop


class Conn:
    def __init__(
        self,
        loop: Loop,
        sock: socket.socket,
        on_frame: Callable[[Conn, int, bytes], None],
        on_close: Callable[[Conn], None],
    ) -> None:
        self.loop, self.sock, self.on_frame, self.on_close = loop, sock, on_frame, on_close
        sock.setblocking(False)
        self.decoder = wire.Decoder()
        self.out = bytearray()
        self.closing = False
        self.closed = False
        self.paused = False  # not read while the process its stdin goes to is behind
        self.proc = None  # the supervised process this connection's stdin frames go to
        loop.watch(sock, self.on_event)

    def send(self, data: bytes) -> None:
        if self.closed:
            return
        self.out += data
        self.flush()

    def reply(self, obj: dict) -> None:
        self.send(wire.message(obj))

    def finish(self) -> None:
        """Close once everything queued has been sent."""
        self.closing = True
        self.flush()

    def flush(self) -> None:
        while self.out and not self.closed:
            try:
                n = self.sock.send(self.out)
            except BlockingIOError:
                break
            except OSError:
                self.close()
                return
            del self.out[:n]
        if self.closed:
            return
        if not self.out and self.closing:
            self.close()
            return
        self._watch()

    def _watch(self) -> None:
        self.loop.modify(self.sock, self.on_event, (0 if self.paused else READ) | (WRITE if self.out else 0))

    def pause(self) -> None:
        """Stop reading requests and stdin (back-pressure: the client's socket buffer fills up)."""
        if not self.paused and not self.closed:
            self.paused = True
            self._watch()

    def resume(self) -> None:
        if self.paused and not self.closed:
            self.paused = False
            self._watch()

    def on_event(self, mask: int) -> None:
        if mask & WRITE:
            self.flush()
        if mask & READ and not self.closed:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self.close()
                return
            for kind, payload in self.decoder.feed(data):
                self.on_frame(self, kind, payload)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.on_close(self)
        self.loop.unwatch(self.sock)
        self.sock.close()
