"""HTTP to a Docker Engine API on a Unix socket: JSON calls, streamed bodies, and the hijack.

One connection per call (a Unix connect costs microseconds), so a blocking stream such as ``wait`` or
``logs -f`` never holds up another call. Error bodies (``{"message": …}``) become the engine's own
errors (404 :class:`NotFound`, 409 :class:`Conflict`, others :class:`VmvcError`) so the CLI reports
them exactly as it reports the direct path's.

The client does not trust what answers on the socket: a plain call gets ``VMVC_CLIENT_TIMEOUT`` seconds
(docker-compose's ``DOCKER_CLIENT_TIMEOUT``; 120 by default) for its whole answer, so a silent or
byte-dripping peer ends in one line instead of a hang (``wait``, ``stop``, streams and attached
sessions block by design and get no limit, or the grace period plus it); answers and error bodies are
read up to a cap, so a huge one cannot exhaust memory.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import time
import urllib.parse

from runtime.errors import Conflict, NotFound, UsageError, VmvcError

MAX_HEAD = 64 * 1024
MAX_ANSWER = 64 << 20  # a JSON answer or one progress line (ps of 10,000 containers is ~10 MiB)
MAX_ERROR = 64 * 1024  # an error body; its message is cut to one printable line
DEFAULT = object()  # the timeout of a plain call: VMVC_CLIENT_TIMEOUT


class DaemonUnreachable(VmvcError):
    """No daemon answers on the socket (docker: ``Cannot connect to the Docker daemon at …``)."""

    as_is = True  # the CLI prints it without "Error response from daemon"


class BadAnswer(DaemonUnreachable):
    """Something answers on the socket, but not as a Docker Engine API does (closed, not HTTP, not JSON)."""


def parse_host(value: str) -> str:
    """``unix:///path`` or a bare path -> the socket path. TCP is refused: ``vmvc daemon`` serves only a
    Unix socket, since whoever reaches the API is root on the daemon's host."""
    value = value.strip()
    if value.startswith("unix://"):
        path = value[len("unix://"):]
    elif "://" in value:
        raise UsageError(f"cannot use host {value}: vmvc talks to a daemon only over a Unix socket "
                         "(unix://PATH), as 'vmvc daemon' serves only one", exit_code=125)
    else:
        path = value
    if not path:
        raise UsageError(f"invalid host {value!r}: expected unix://PATH", exit_code=125)
    return path


def _target(path: str, query: dict | None) -> str:
    """The request target. A ``?``, ``#``, space or control character in the path is escaped, so a
    name the caller did not quote stays one path (``restart 'web/kill?signal=KILL&x='`` was a kill)."""
    return urllib.parse.quote(path, safe="/%:@") + _query(query)


def _query(query: dict | None) -> str:
    if not query:
        return ""
    pairs = []
    for k, v in query.items():
        if v is None:
            continue
        if isinstance(v, bool):
            v = "1" if v else "0"
        elif isinstance(v, (dict, list)):
            v = json.dumps(v)
        for one in (v if isinstance(v, tuple) else (v,)):
            pairs.append((k, str(one)))
    return "?" + urllib.parse.urlencode(pairs) if pairs else ""


def client_timeout() -> float:
    try:
        value = float(os.environ.get("VMVC_CLIENT_TIMEOUT") or 120)
    except ValueError:
        value = 120.0
    return value if value > 0 else 120.0


def _limit(method: str, path: str, query: dict | None) -> float | None:
    """How long a plain call may take: ``wait`` blocks until an exit, ``stop``/``restart`` for the grace
    period first; everything else answers at once."""
    if path.endswith("/wait"):
        return None
    grace = (query or {}).get("t")
    if path.endswith(("/stop", "/restart")):
        try:
            return client_timeout() + max(0.0, float(grace if grace is not None else 10))
        except (TypeError, ValueError):
            return None
    return client_timeout()


def error_for(status: int, body: bytes) -> VmvcError:
    try:
        message = json.loads(body).get("message") or ""
    except (ValueError, AttributeError):
        message = body.decode("utf-8", "replace").strip()
    # one line of printable text whatever the peer sent (no newlines, no terminal escapes)
    message = "".join(c if c.isprintable() else " " for c in str(message)).strip()
    if len(message) > 1000:
        message = message[:1000] + "…"
    message = message or f"the daemon answered HTTP {status}"
    if status == 404:
        err = NotFound(message)
    elif status == 409:
        err = Conflict(message)
    else:
        err = VmvcError(message)
    err.status = status
    return err


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float | None = None) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        self.sock = connect(self.socket_path, self.timeout)


class _DeadlineSocket(socket.socket):
    """A socket whose reads share one deadline (a per-read timeout would let a peer drip a byte a
    second forever). ``deadline = None`` lifts it (an attached session after its head)."""

    deadline: float | None = None
    limit: float | None = None

    def _left(self) -> None:
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("deadline passed")
            self.settimeout(left)

    def recv(self, *args):
        self._left()
        return super().recv(*args)

    def recv_into(self, *args):
        self._left()
        return super().recv_into(*args)

    def lift(self) -> None:
        self.deadline = None
        self.settimeout(None)


def connect(path: str, timeout: float | None = None) -> socket.socket:
    s = _DeadlineSocket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if timeout is not None:
        s.deadline, s.limit = time.monotonic() + timeout, timeout
    try:
        s.connect(path)
    except PermissionError:
        s.close()
        raise DaemonUnreachable(f"permission denied while trying to connect to the vmvc daemon socket at "
                                f"unix://{path}: it is root's (mode 0660), as docker's is") from None
    except OSError:
        s.close()
        raise DaemonUnreachable(f"Cannot connect to the vmvc daemon at unix://{path}. "
                                "Is the daemon running? (vmvc daemon -H unix://PATH)") from None
    return s


class Client:
    def __init__(self, host: str) -> None:
        self.path = parse_host(host)
        self.host = f"unix://{self.path}"

    # -- plain calls ------------------------------------------------------------------------------
    def request(self, method: str, path: str, query: dict | None = None, body=None,
                headers: dict | None = None, timeout: float | None = None) -> http.client.HTTPResponse:
        """Send one request; the response after its headers (raises on 4xx/5xx). ``timeout`` bounds
        the whole exchange (None: a stream, no bound)."""
        conn = _UnixConnection(self.path, timeout)
        headers = dict(headers or {})
        kw = {}
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        elif body is not None and hasattr(body, "read"):
            stream = body
            body = iter(lambda: stream.read(1 << 20), b"")
            kw["encode_chunked"] = True
            headers.setdefault("Content-Type", "application/x-tar")
        try:
            conn.request(method, _target(path, query), body=body, headers=headers, **kw)
            resp = conn.getresponse()
        except DaemonUnreachable:
            conn.close()
            raise
        except (ConnectionError, TimeoutError, http.client.HTTPException) as e:
            conn.close()
            raise _bad(self.host, e, timeout) from None
        if resp.status >= 400:
            try:
                data = resp.read(MAX_ERROR)
            except (ConnectionError, TimeoutError, http.client.HTTPException) as e:
                raise _bad(self.host, e, timeout) from None
            finally:
                conn.close()
            raise error_for(resp.status, data)
        resp.vmvc_conn = conn  # closed with the response
        return resp

    def call(self, method: str, path: str, query: dict | None = None, body=None, headers=None,
             timeout=DEFAULT):
        """A call with a JSON answer (None when there is none); ``status`` set on the result dict."""
        timeout = _limit(method, path, query) if timeout is DEFAULT else timeout
        resp = self.request(method, path, query, body, headers, timeout)
        try:
            data = resp.read(MAX_ANSWER + 1)
        except (ConnectionError, TimeoutError, http.client.HTTPException) as e:
            raise _bad(self.host, e, timeout) from None
        finally:
            resp.close()
            resp.vmvc_conn.close()
        if len(data) > MAX_ANSWER:
            raise BadAnswer(f"the daemon at {self.host} answered {path} with more than "
                            f"{MAX_ANSWER >> 20} MiB")
        try:
            return json.loads(data) if data.strip() else None
        except ValueError:
            raise BadAnswer(f"the daemon at {self.host} answered {path} with no JSON") from None

    def status(self, method: str, path: str, query: dict | None = None, body=None) -> int:
        timeout = _limit(method, path, query)
        resp = self.request(method, path, query, body, timeout=timeout)
        try:
            resp.read(MAX_ERROR)  # an answer with no body of interest: never read a huge one
        except (ConnectionError, TimeoutError, http.client.HTTPException) as e:
            raise _bad(self.host, e, timeout) from None
        finally:
            resp.close()
            resp.vmvc_conn.close()
        return resp.status

    # -- streams ----------------------------------------------------------------------------------
    def stream(self, method: str, path: str, query: dict | None = None, body=None, headers=None):
        """The body as it arrives (``logs -f``, ``events``)."""
        resp = self.request(method, path, query, body, headers)
        try:
            while True:
                try:
                    data = resp.read1(65536)
                except (ConnectionError, http.client.HTTPException) as e:
                    raise _bad(self.host, e) from None
                if not data:
                    return
                yield data
        finally:
            resp.close()
            resp.vmvc_conn.close()

    def json_lines(self, method: str, path: str, query: dict | None = None, body=None, headers=None):
        """docker's progress streams: one JSON object per line. An in-stream ``error`` ends it with a
        :class:`VmvcError` carrying the daemon's message."""
        buf = bytearray()
        for data in self.stream(method, path, query, body, headers):
            buf += data
            if b"\n" in data:  # split only then: a peer's endless line costs linear time, not quadratic
                *lines, rest = bytes(buf).split(b"\n")
                buf = bytearray(rest)
                for line in lines:
                    if line.strip():
                        yield _checked(self._json_line(line, path))
            if len(buf) > MAX_ANSWER:
                raise BadAnswer(f"the daemon at {self.host} streamed a line of more than "
                                f"{MAX_ANSWER >> 20} MiB on {path}")
        if buf.strip():
            yield _checked(self._json_line(buf, path))

    def _json_line(self, line: bytes, path: str):
        try:
            return json.loads(line)
        except ValueError:
            raise BadAnswer(f"the daemon at {self.host} streamed no JSON on {path}") from None

    def hijack(self, method: str, path: str, query: dict | None = None, body=None):
        """docker's upgrade (attach, exec start): the raw socket after ``101 UPGRADED``, and the bytes
        that came with the answer."""
        sock = connect(self.path, client_timeout())  # for the head only: lifted once it came
        data = json.dumps(body).encode() if body is not None else b""
        head = (f"{method} {_target(path, query)} HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\n"
                f"Upgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n")
        try:
            sock.sendall(head.encode() + data)
            buf = b""
            while b"\r\n\r\n" not in buf:
                more = sock.recv(65536)
                if not more or len(buf) > MAX_HEAD:
                    raise BadAnswer(f"the daemon at {self.host} closed the connection during {path}")
                buf += more
            head_bytes, _, rest = buf.partition(b"\r\n\r\n")
            lines = head_bytes.decode("latin-1").split("\r\n")
            words = lines[0].split()
            if len(words) < 2 or not words[0].startswith("HTTP/") or not words[1].isdigit():
                raise BadAnswer(f"the daemon at {self.host} did not answer {path} in HTTP")
            status = int(words[1])
            if status >= 400:
                length = min(_content_length(lines) or 0, MAX_ERROR)
                while len(rest) < length:
                    more = sock.recv(65536)
                    if not more:
                        break
                    rest += more
                raise error_for(status, rest[:MAX_ERROR])
        except TimeoutError as e:
            sock.close()
            raise _bad(self.host, e, sock.limit) from None
        except BaseException:
            sock.close()
            raise
        sock.lift()
        return sock, rest


def _bad(host: str, e: Exception, timeout: float | None = None) -> BadAnswer:
    if isinstance(e, TimeoutError):
        return BadAnswer(f"the daemon at {host} did not answer within {timeout or 0:g} s "
                         "(VMVC_CLIENT_TIMEOUT)")
    if isinstance(e, http.client.RemoteDisconnected | ConnectionError):
        return BadAnswer(f"the daemon at {host} closed the connection")
    return BadAnswer(f"the daemon at {host} did not answer in HTTP ({type(e).__name__})")


def _content_length(lines: list[str]) -> int | None:
    for line in lines[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == "content-length" and v.strip().isdigit():
            return int(v.strip())
    return None


def _checked(obj):
    if isinstance(obj, dict) and obj.get("error"):
        raise VmvcError(str((obj.get("errorDetail") or {}).get("message") or obj["error"]), exit_code=1)
    return obj

