"""HTTP to a Docker Engine API on a Unix socket: JSON calls, streamed bodies, and the hijack.

One connection per call (a Unix connect costs microseconds), so a blocking stream such as ``wait`` or
``logs -f`` never holds up another call. Error bodies (``{"message": …}``) become the engine's own
errors (404 :class:`NotFound`, 409 :class:`Conflict`, others :class:`VmvcError`) so the CLI reports
them exactly as it reports the direct path's.
"""

from __future__ import annotations

import http.client
import json
import socket
import urllib.parse

from runtime.errors import Conflict, NotFound, UsageError, VmvcError

MAX_HEAD = 64 * 1024


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


def error_for(status: int, body: bytes) -> VmvcError:
    try:
        message = json.loads(body).get("message") or ""
    except (ValueError, AttributeError):
        message = body.decode("utf-8", "replace").strip()
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


def connect(path: str, timeout: float | None = None) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
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
                headers: dict | None = None) -> http.client.HTTPResponse:
        """Send one request; the response after its headers (raises on 4xx/5xx)."""
        conn = _UnixConnection(self.path)
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
            conn.request(method, path + _query(query), body=body, headers=headers, **kw)
            resp = conn.getresponse()
        except DaemonUnreachable:
            conn.close()
            raise
        except (ConnectionError, http.client.HTTPException) as e:
            conn.close()
            raise _bad(self.host, e) from None
        if resp.status >= 400:
            data = resp.read()
            conn.close()
            raise error_for(resp.status, data)
        resp.vmvc_conn = conn  # closed with the response
        return resp

    def call(self, method: str, path: str, query: dict | None = None, body=None, headers=None):
        """A call with a JSON answer (None when there is none); ``status`` set on the result dict."""
        resp = self.request(method, path, query, body, headers)
        try:
            data = resp.read()
        except (ConnectionError, http.client.HTTPException) as e:
            raise _bad(self.host, e) from None
        finally:
            resp.close()
            resp.vmvc_conn.close()
        try:
            return json.loads(data) if data.strip() else None
        except ValueError:
            raise BadAnswer(f"the daemon at {self.host} answered {path} with no JSON") from None

    def status(self, method: str, path: str, query: dict | None = None, body=None) -> int:
        resp = self.request(method, path, query, body)
        resp.read()
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
        buf = b""
        for data in self.stream(method, path, query, body, headers):
            buf += data
            *lines, buf = buf.split(b"\n")
            for line in lines:
                if line.strip():
                    yield _checked(self._json_line(line, path))
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
        sock = connect(self.path)
        data = json.dumps(body).encode() if body is not None else b""
        head = (f"{method} {path}{_query(query)} HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\n"
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
                length = _content_length(lines)
                while length is not None and len(rest) < length:
                    more = sock.recv(65536)
                    if not more:
                        break
                    rest += more
                raise error_for(status, rest)
        except BaseException:
            sock.close()
            raise
        return sock, rest


def _bad(host: str, e: Exception) -> BadAnswer:
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

