"""The daemon configuration in docker's ``daemon.json`` format, shared by ``vmvc daemon`` and the CLI.

Keys read: ``registry-mirrors`` and ``insecure-registries`` (docker's meaning), ``data-root``, and one
vmvc key, ``hub``: the URL that stands in for Docker Hub (``registry-1.docker.io``) — on an offline
classroom network, a local registry started with ``vmvc registry serve``.
"""

from __future__ import annotations

import json
import os
from urllib.parse import urlsplit

from runtime.errors import VmvcError

DEFAULT_PATH = "/etc/vmvc/daemon.json"
HUB = "https://registry-1.docker.io"


def path() -> str:
    return os.environ.get("VMVC_DAEMON_CONFIG") or DEFAULT_PATH


def load(file: str | None = None) -> dict:
    """The config (``{}`` when the default file does not exist); one clear line when it is bad."""
    chosen = file or path()
    try:
        with open(chosen) as f:
            data = json.load(f)
    except FileNotFoundError:
        if file is None:
            return {}
        raise VmvcError(f"unable to configure the daemon: open {chosen}: no such file or directory") from None
    except (OSError, ValueError) as e:
        raise VmvcError(f"unable to configure the daemon: {chosen}: {e}") from None
    if not isinstance(data, dict):
        raise VmvcError(f"unable to configure the daemon: {chosen}: the top level must be an object")
    for key in ("registry-mirrors", "insecure-registries"):
        value = data.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise VmvcError(f"unable to configure the daemon: {chosen}: {key} must be a list of strings")
    for m in data.get("registry-mirrors") or []:
        validate_mirror(m)
    if data.get("hub") is not None:
        validate_mirror(data["hub"], what="hub")
    return data


def validate_mirror(url, what: str = "mirror") -> str:
    """dockerd's rules: http(s), nothing after the host but an optional ``/``; no query or credentials."""
    if not isinstance(url, str):
        raise VmvcError(f"invalid {what}: {url!r} is not a string")
    u = urlsplit(url)
    if u.scheme not in ("http", "https") or not u.netloc:
        raise VmvcError(f"invalid {what}: unsupported scheme {u.scheme!r} in {url!r}")
    if u.path not in ("", "/") or u.query or u.fragment or u.username or u.password:
        raise VmvcError(f"invalid {what}: path, query, fragment or credentials are not allowed in {url!r}")
    return url.rstrip("/")
