"""A loopback TCP proxy that makes a near server look far: added round-trip time, a bandwidth cap, and
faults on demand (answer 500, cut a response short). The pull and mirror benchmarks and the registry
tests put it in front of a local registry to play "Docker Hub, far away" or "a broken mirror".

Only ever listens on, and connects to, 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time


class ShapedProxy:
    """``with ShapedProxy(target_port, rtt_ms=150, rate=4e6) as p: p.url`` — a far registry."""

    def __init__(self, target_port: int, *, rtt_ms: float = 0.0, rate: float | None = None,
                 fail_500: bool = False, cut_after: int | None = None, cut_times: int = 1):
        self.target = ("127.0.0.1", target_port)
        self.delay = rtt_ms / 2000.0  # each direction pays half the round trip
        self.rate = rate  # bytes per second, shared by all connections
        self.fail_500 = fail_500
        self.cut_after, self.cut_times = cut_after, cut_times
        self.requests: list[bytes] = []  # first bytes of each request (tests read Range headers here)
        self.lock = threading.Lock()
        self.budget_t = time.monotonic()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.host = f"127.0.0.1:{self.port}"
        self.closed = False
        self.threads: list[threading.Thread] = []
        self.socks: set[socket.socket] = set()

    def __enter__(self) -> ShapedProxy:
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self.threads.append(t)
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):
            self.listener.close()
        for s in list(self.socks):
            with contextlib.suppress(OSError):
                s.close()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.socks.add(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _throttle(self, n: int) -> None:
        if not self.rate:
            return
        with self.lock:  # a token bucket shared by every connection: the link, not the socket
            self.budget_t = max(self.budget_t, time.monotonic()) + n / self.rate
            wait = self.budget_t - time.monotonic()
        if wait > 0:
            time.sleep(wait)

    def _serve(self, client: socket.socket) -> None:
        state = {"blob": False, "after_blob": 0, "cut": None, "reply_delay": True}
        try:
            first = client.recv(65536)
            if not first:
                return
            if self.fail_500:
                self.requests.append(first[:2048])
                body = b'{"errors":[{"code":"UNKNOWN","message":"mirror is broken (test)"}]}'
                client.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                               b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
                return
            upstream = socket.create_connection(self.target, timeout=30)
            self.socks.add(upstream)
            self._note(first, state)
            time.sleep(self.delay)
            upstream.sendall(first)
            t = threading.Thread(target=self._pump, args=(client, upstream, False, state), daemon=True)
            t.start()
            self._pump(upstream, client, True, state)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                client.close()
            self.socks.discard(client)

    def _note(self, request: bytes, state: dict) -> None:
        """Remember each request; after a layer-sized blob request, arm the cut (once per cut_times)."""
        self.requests.append(request[:2048])
        if b"/blobs/sha256:" in request.split(b"\r\n", 1)[0]:
            state["blob"] = True
            if self.cut_after is not None and state["cut"] is None:
                state["cut"] = self.cut_after

    def _take_cut(self) -> bool:
        with self.lock:
            if self.cut_times <= 0:
                return False
            self.cut_times -= 1
            return True

    def _pump(self, src: socket.socket, dst: socket.socket, downstream: bool, state: dict) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if downstream:
                    if state["reply_delay"]:  # the first bytes of each answer: half a round trip
                        state["reply_delay"] = False
                        time.sleep(self.delay)
                    if state["blob"] and state["cut"] is not None:
                        room = state["cut"] - state["after_blob"]
                        if len(data) > room and self._take_cut():
                            dst.sendall(data[: max(0, room)])
                            break  # the connection drops in the middle of a blob
                        state["after_blob"] += len(data)
                    self._throttle(len(data))
                else:
                    self._note(data, state)
                    state["reply_delay"] = True
                    time.sleep(self.delay)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
