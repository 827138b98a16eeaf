"""The route table: ``(method, path pattern) -> handler``, with docker's ``/v1.NN`` prefix stripped."""

from __future__ import annotations

import re

_VERSION_PREFIX = re.compile(r"^/v(\d+\.\d+)(/.*)$")
ROUTES: list[tuple[str, re.Pattern, object]] = []


def route(method: str, pattern: str):
    """Register a handler ``async def h(daemon, req, **groups)``; ``{name}`` matches one path part,
    ``{name:path}`` the rest (image names have slashes)."""
    rx = re.sub(r"\{(\w+):path\}", r"(?P<\1>.+)", pattern)
    rx = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", rx)
    compiled = re.compile("^" + rx + "$")

    def register(fn):
        for m in method.split("|"):
            ROUTES.append((m, compiled, fn))
        return fn

    return register


def split_version(path: str) -> tuple[str | None, str]:
    m = _VERSION_PREFIX.match(path)
    return (m.group(1), m.group(2)) if m else (None, path)


def find(method: str, path: str):
    """(handler, groups), or (None, allowed_methods) when only the method is wrong."""
    allowed = []
    for m, rx, fn in ROUTES:
        g = rx.match(path)
        if g:
            if m == method or (m == "GET" and method == "HEAD"):
                return fn, g.groupdict()
            allowed.append(m)
    return None, allowed
