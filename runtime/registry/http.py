"""A registry endpoint over HTTP(S): requests with auth challenges answered, errors sorted for fallback.

Built on :mod:`http.client` (one connection per thread, reused), because a pull streams large blobs
with ``Range`` for resuming and needs every error classified the way dockerd classifies it.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
import urllib.parse

from runtime.registry import auth
from runtime.registry.errors import RegistryError, ServerError, Unreachable, Unsupported

TIMEOUT = 30.0
MAX_BODY = 8 << 20  # manifests, configs, tokens, error bodies: dockerd caps manifests at 4 MiB


def read_capped(resp, endpoint: str, limit: int = MAX_BODY) -> bytes:
    """The whole body of a response that is not a blob, refused past ``limit``: a hostile registry's endless
    manifest must not fill the memory of the daemon."""
    try:
        raw = resp.read(limit + 1)
    except (OSError, http.client.HTTPException) as e:
        raise Unreachable(f"{endpoint}: {_why(e)}", endpoint=endpoint) from None
    if len(raw) > limit:
        resp.close()
        raise Unsupported(f"{endpoint}: the registry sent more than {limit >> 20} MiB where a manifest, "
                          f"config or message belongs", endpoint=endpoint)
    return raw


class Endpoint:
    """One registry base URL (``http://127.0.0.1:5000``), with credentials for its host if any."""

    def __init__(self, url: str, *, mirror: bool = False, timeout: float = TIMEOUT, insecure: bool = False):
        u = urllib.parse.urlsplit(url)
        self.url = url.rstrip("/")
        self.scheme, self.host = u.scheme, u.netloc
        self.mirror = mirror
        self.insecure = insecure  # dockerd's insecure registries: HTTPS tried, certificates not checked
        self.timeout = timeout
        self.local = threading.local()
        self.tokens: dict[str, str] = {}
        self.creds = auth.credentials(self.host)

    def __repr__(self) -> str:
        return f"Endpoint({self.url!r}{', mirror' if self.mirror else ''})"

    def _conn(self, fresh: bool = False) -> http.client.HTTPConnection:
        c = getattr(self.local, "conn", None)
        if c is None or fresh:
            if c is not None:
                c.close()
            if self.scheme == "https":
                c = http.client.HTTPSConnection(self.host, timeout=self.timeout,
                                                context=tls_context(verify=not self.insecure))
            else:
                c = http.client.HTTPConnection(self.host, timeout=self.timeout)
            self.local.conn = c
        return c

    def request(self, method: str, path: str, headers: dict | None = None, body=None, scope: str = "",
                ok=(200,), stream: bool = False, _auth_tries: int = 2, _redirects: int = 3):
        """Send; answer a 401 challenge once; returns the response (read it, or close it if ``stream``)."""
        h = dict(headers or {})
        if scope in self.tokens:
            h["Authorization"] = self.tokens[scope]
        target = path if path.startswith("http") else self.url + path
        u = urllib.parse.urlsplit(target)
        rel = u.path + (f"?{u.query}" if u.query else "")
        for attempt in (0, 1):  # a kept-alive connection the server closed: retry once on a fresh one
            try:
                conn = self._conn(fresh=attempt == 1) if u.netloc == self.host else self._other(u)
                conn.request(method, rel, body=body, headers=h)
                resp = conn.getresponse()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                if attempt or body is not None and not isinstance(body, (bytes, str)):
                    raise Unreachable(f"{self.host}: {e}", endpoint=self.url) from None
            except (OSError, ssl.SSLError, http.client.HTTPException) as e:
                self._conn(fresh=True).close()
                raise Unreachable(f"{self.host}: {_why(e)}", endpoint=self.url) from None
        if resp.status == 401 and _auth_tries:
            www = resp.getheader("WWW-Authenticate") or ""
            read_capped(resp, self.url)
            self._answer(www, scope)
            return self.request(method, path, headers, body, scope, ok, stream, _auth_tries - 1, _redirects)
        if resp.status in (301, 302, 303, 307, 308) and _redirects:
            where = resp.getheader("Location") or ""
            read_capped(resp, self.url)
            h.pop("Authorization", None)
            return self.request(method, urllib.parse.urljoin(target, where), h, body, "", ok, stream, 0,
                                _redirects - 1)
        if resp.status not in ok:
            raise _error(resp, self.url)
        return resp if stream else (resp, read_capped(resp, self.url))

    def _other(self, u) -> http.client.HTTPConnection:
        if u.scheme == "https":
            return http.client.HTTPSConnection(u.netloc, timeout=self.timeout,
                                               context=tls_context(verify=not self.insecure))
        return http.client.HTTPConnection(u.netloc, timeout=self.timeout)

    def _answer(self, www: str, scope: str) -> None:
        scheme, params = auth.challenge(www)
        if scheme == "basic":
            if not self.creds:
                raise RegistryError(f"{self.host}: authentication required (vmvc login {self.host})",
                                    401, "UNAUTHORIZED", self.url)
            self.tokens[scope] = auth.basic_header(*self.creds)
            return
        if scheme != "bearer" or "realm" not in params:
            raise RegistryError(f"{self.host}: unsupported authentication {www!r}", 401, "UNAUTHORIZED",
                                self.url)
        query = {k: v for k, v in params.items() if k in ("service", "scope")}
        realm = params["realm"] + "?" + urllib.parse.urlencode(query)
        h = {"Authorization": auth.basic_header(*self.creds)} if self.creds else {}
        u = urllib.parse.urlsplit(realm)
        conn = self._other(u)
        try:
            conn.request("GET", u.path + "?" + u.query, headers=h)
            resp = conn.getresponse()
            raw = read_capped(resp, self.url)
        except OSError as e:
            raise Unreachable(f"token service {u.netloc}: {_why(e)}", endpoint=self.url) from None
        finally:
            conn.close()
        if resp.status != 200:
            raise RegistryError(f"{self.host}: authentication failed ({resp.status})", 401, "UNAUTHORIZED",
                                self.url)
        try:
            data = json.loads(raw or b"{}")
            token = data.get("token") or data.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str):
            token = None
        if not token:
            raise RegistryError(f"{self.host}: the token service gave no token", 401, "UNAUTHORIZED",
                                self.url)
        self.tokens[scope] = "Bearer " + token

    def close(self) -> None:
        c = getattr(self.local, "conn", None)
        if c is not None:
            c.close()


_CONTEXTS: dict[bool, ssl.SSLContext] = {}


def tls_context(verify: bool = True) -> ssl.SSLContext:
    """One context per process (loading the CA bundle takes ~0.5 s on a small host); without ``verify``
    no CA bundle is loaded at all."""
    ctx = _CONTEXTS.get(verify)
    if ctx is None:
        if verify:
            ctx = ssl.create_default_context()
        else:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        _CONTEXTS[verify] = ctx
    return ctx


def _why(e: Exception) -> str:
    if isinstance(e, socket.timeout):
        return "timed out"
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    if isinstance(e, socket.gaierror):
        return "no such host"
    return str(e) or type(e).__name__


def _error(resp, endpoint: str) -> RegistryError:
    raw = read_capped(resp, endpoint)
    code, message = "", ""
    try:
        errs = json.loads(raw).get("errors") or []
        if errs:
            code, message = errs[0].get("code", ""), errs[0].get("message", "")
    except (ValueError, AttributeError):
        pass
    text = f"{endpoint}: {resp.status} {code or resp.reason}" + (f": {message}" if message else "")
    cls = ServerError if resp.status >= 500 else RegistryError
    return cls(text, resp.status, code, endpoint)
