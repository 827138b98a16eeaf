"""Credentials as docker keeps them (``~/.docker/config.json``, ``auths`` of base64 ``user:password``)
and the two challenges registries send: ``Basic`` and ``Bearer`` (a token from the realm it names)."""

from __future__ import annotations

import base64
import json
import os
import re

_PARAM = re.compile(r'(\w+)="([^"]*)"')


def config_path() -> str:
    base = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return os.path.join(base, "config.json")


def _read() -> dict:
    try:
        with open(config_path()) as f:
            data = json.load(f)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def credentials(host: str) -> tuple[str, str] | None:
    entry = (_read().get("auths") or {}).get(host) or {}
    raw = entry.get("auth")
    if not raw:
        return None
    try:
        user, _, password = base64.b64decode(raw).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return user, password


def save(host: str, user: str, password: str) -> str:
    """Store credentials (0600, the directory 0700), as ``docker login`` does without a helper."""
    data = _read()
    data.setdefault("auths", {})[host] = {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}
    path = config_path()
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent="\t")
    os.replace(tmp, path)
    return path


def forget(host: str) -> bool:
    data = _read()
    if host not in (data.get("auths") or {}):
        return False
    del data["auths"][host]
    save_raw(data)
    return True


def save_raw(data: dict) -> None:
    path = config_path()
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent="\t")
    os.replace(tmp, path)


def challenge(header: str) -> tuple[str, dict]:
    """``Bearer realm="…",service="…",scope="…"`` -> ``("bearer", {realm, service, scope})``."""
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), dict(_PARAM.findall(rest))


def basic_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
