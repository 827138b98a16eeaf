"""A small HTTP/1.1 server on asyncio, shaped by what docker clients need (not a general web server).

Why not ``http.server``: it cannot decode chunked request bodies (``docker import``/``build`` send
them), it blocks a thread per hijacked stream, and it has no defence against slow clients. This module
reads one request at a time per connection (keep-alive, as the CLI reuses connections), with limits on
the header size, the time to send headers (slowloris) and the body size, and gives handlers three ways
to answer: a whole response, a chunked stream, or the raw socket after ``101 UPGRADED`` (docker's
attach/exec hijack).
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from dataclasses import dataclass, field

MAX_HEADER = 64 * 1024
HEADER_SECONDS = 10.0
IDLE_SECONDS = 600.0  # a kept-alive connection with no request for this long is closed quietly
MAX_JSON_BODY = 4 << 20  # a create body is a few KiB
REASONS = {200: "OK", 201: "Created", 204: "No Content", 304: "Not Modified", 400: "Bad Request",
           404: "Not Found", 409: "Conflict", 413: "Payload Too Large", 500: "Internal Server Error",
           501: "Not Implemented"}


class HTTPError(Exception):
    """An answer with a status and docker's ``{"message": …}`` body."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class Request:
    method: str
    path: str
    query: dict
    headers: dict
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    body_mode: str = "none"  # none | length | chunked
    body_left: int = 0
    answered: bool = False
    hijacked: bool = False
    status: int = 0
    extra: dict = field(default_factory=dict)

    # -- query helpers: the CLI sends 1/0, the SDK True/False ---------------------------------------
    def arg(self, name: str, default: str | None = None) -> str | None:
        return self.query.get(name, default)

    def flag(self, name: str, default: bool = False) -> bool:
        v = self.query.get(name)
        if v is None:
            return default
        return v.lower() in ("1", "true", "yes", "on")

    def number(self, name: str, default: float | None = None) -> float | None:
        v = self.query.get(name)
        if v in (None, ""):
            return default
        try:
            return float(v)
        except ValueError:
            raise HTTPError(400, f"invalid value for {name}: {v!r}") from None

    # -- body -------------------------------------------------------------------------------------
    async def chunks(self, limit: int | None = None):
        """The request body, piece by piece (Content-Length or chunked), at most ``limit`` bytes."""
        seen = 0
        if self.body_mode == "length":
            while self.body_left:
                data = await self.reader.read(min(65536, self.body_left))
                if not data:
                    raise HTTPError(400, "request body ended early")
                self.body_left -= len(data)
                seen += len(data)
                if limit is not None and seen > limit:
                    raise HTTPError(413, f"request body larger than {limit} bytes")
                yield data
        elif self.body_mode == "chunked":
            while True:
                line = await self.reader.readline()
                try:
                    size = int(line.split(b";")[0].strip() or b"x", 16)
                except ValueError:
                    raise HTTPError(400, "malformed chunked body") from None
                if size == 0:
                    while (await self.reader.readline()) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                seen += size
                if limit is not None and seen > limit:
                    raise HTTPError(413, f"request body larger than {limit} bytes")
                data = await self.reader.readexactly(size)
                await self.reader.readline()
                yield data
        self.body_mode = "none"

    async def body(self, limit: int = MAX_JSON_BODY) -> bytes:
        return b"".join([c async for c in self.chunks(limit)])

    async def json(self, default=None):
        raw = await self.body()
        if not raw.strip():
            return default if default is not None else {}
        try:
            obj = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError) as e:  # [[[[… nested past the stack
            raise HTTPError(400, f"malformed JSON body: {e}") from None
        if not isinstance(obj, dict):
            raise HTTPError(400, "the JSON body must be an object")
        return obj

    # -- answers ----------------------------------------------------------------------------------
    def _head(self, status: int, headers: dict) -> bytes:
        self.status = status
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'OK')}",
                 "Api-Version: " + self.extra.get("api_version", "1.45"), "Ostype: linux",
                 "Server: vmvc", "Docker-Experimental: false"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def send(self, status: int, body: bytes | None = b"", content_type: str = "application/json",
                   headers: dict | None = None) -> None:
        h = dict(headers or {})
        if status not in (204, 304):
            h.setdefault("Content-Type", content_type)
            h["Content-Length"] = str(len(body or b""))
        self.writer.write(self._head(status, h) + (b"" if self.method == "HEAD" else (body or b"")))
        self.answered = True
        await self.writer.drain()

    async def send_json(self, obj, status: int = 200) -> None:
        await self.send(status, json.dumps(obj).encode() + b"\n")

    async def start_stream(self, status: int = 200, content_type: str = "application/json") -> None:
        self.writer.write(self._head(status, {"Content-Type": content_type, "Transfer-Encoding": "chunked"}))
        self.answered = True
        await self.writer.drain()

    async def chunk(self, data: bytes) -> None:
        if data:
            self.writer.write(b"%x\r\n%s\r\n" % (len(data), data))
            await self.writer.drain()

    async def chunk_json(self, obj) -> None:
        await self.chunk(json.dumps(obj).encode() + b"\r\n")

    async def end_stream(self) -> None:
        self.writer.write(b"0\r\n\r\n")
        await self.writer.drain()

    async def upgrade(self, content_type: str) -> None:
        """Docker's hijack: 101, then the socket is a raw byte stream both ways."""
        self.writer.write(self._head(101, {"Content-Type": content_type, "Connection": "Upgrade",
                                           "Upgrade": "tcp"}).replace(b"101 OK", b"101 UPGRADED"))
        self.answered = self.hijacked = True
        await self.writer.drain()


async def read_request(reader, writer) -> Request | None:
    """The next request on a connection; None when the client closed it (or left it idle too long).

    A kept-alive connection may sit idle between requests (the CLI keeps them); once a request's first
    byte has come, its headers must follow within ``HEADER_SECONDS`` (a slow-headers client is dropped)."""
    try:
        first = await asyncio.wait_for(reader.read(1), IDLE_SECONDS)
    except (TimeoutError, ConnectionError):
        return None
    if not first:
        return None
    try:
        head = first + await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEADER_SECONDS)
    except asyncio.IncompleteReadError as e:
        if e.partial.strip():
            raise HTTPError(400, "incomplete request") from None
        return None
    except asyncio.LimitOverrunError:
        raise HTTPError(400, "request headers too large") from None
    except TimeoutError:
        raise HTTPError(400, "request headers took too long") from None
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, _version = lines[0].split(" ", 2)
    except ValueError:
        raise HTTPError(400, "malformed request line") from None
    headers = {}
    for line in lines[1:]:
        if line:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
    url = urllib.parse.urlsplit(target)
    query = {k: v for k, v in urllib.parse.parse_qsl(url.query, keep_blank_values=True)}
    req = Request(method.upper(), urllib.parse.unquote(url.path), query, headers, reader, writer)
    req.extra["raw_query"] = url.query
    if "chunked" in headers.get("transfer-encoding", "").lower():
        req.body_mode = "chunked"
    elif headers.get("content-length"):
        try:
            req.body_left = int(headers["content-length"])
        except ValueError:
            raise HTTPError(400, "bad Content-Length") from None
        if req.body_left < 0:
            raise HTTPError(400, "bad Content-Length")
        req.body_mode = "length" if req.body_left else "none"
    return req
