"""Image names the way docker spells them: ``busybox`` means ``docker.io/library/busybox:latest``.

The store keys tags by the full (normalised) name, so ``busybox``, ``busybox:latest`` and
``docker.io/library/busybox`` all find the same image; listings show the short (familiar) form.
"""

from __future__ import annotations

import re

from runtime.errors import UsageError

DEFAULT_DOMAIN = "docker.io"
DEFAULT_TAG = "latest"
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DOMAIN = re.compile(r"^[a-zA-Z0-9.-]+(?::[0-9]+)?$")


def split(ref: str) -> tuple[str, str, str]:
    """``(domain, path, tag)`` of a reference; raises UsageError on a malformed one."""
    if not ref or ref != ref.strip() or "@" in ref:
        raise UsageError(f"invalid reference format: {ref!r}", exit_code=125)
    name, tag = ref, DEFAULT_TAG
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        name, tag = ref[:colon], ref[colon + 1:]
        if not _TAG.match(tag):
            raise UsageError(f"invalid reference format: {ref!r}", exit_code=125)
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        domain, path = first, rest
        if not _DOMAIN.match(domain):
            raise UsageError(f"invalid reference format: {ref!r}", exit_code=125)
    else:
        domain, path = DEFAULT_DOMAIN, name
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = f"library/{path}"
    if not all(_COMPONENT.match(c) for c in path.split("/")):
        raise UsageError(f"invalid reference format: repository name must be lowercase: {ref!r}",
                         exit_code=125)
    return domain, path, tag


def normalise(ref: str) -> str:
    """``busybox`` -> ``docker.io/library/busybox:latest``."""
    domain, path, tag = split(ref)
    return f"{domain}/{path}:{tag}"


def familiar(full: str) -> str:
    """``docker.io/library/busybox:latest`` -> ``busybox:latest`` (what docker prints)."""
    if full.startswith(DEFAULT_DOMAIN + "/"):
        full = full[len(DEFAULT_DOMAIN) + 1:]
        if full.startswith("library/") and full.count("/") == 1:
            full = full[len("library/"):]
    return full


def repository_and_tag(full: str) -> tuple[str, str]:
    """``docker.io/library/busybox:latest`` -> ``("busybox", "latest")`` for listings."""
    short = familiar(full)
    colon = short.rfind(":")
    return short[:colon], short[colon + 1:]
