"""``docker import --change``: Dockerfile instructions applied to an imported image's config.

Supported: ``CMD``, ``ENTRYPOINT`` (JSON or shell form), ``ENV k=v`` / ``ENV k v``, ``WORKDIR``,
``USER``, ``LABEL k=v``. A shell form becomes ``["/bin/sh", "-c", text]`` as in a Dockerfile.
"""

from __future__ import annotations

import json
import shlex

from runtime.errors import UsageError


def _command(rest: str) -> list[str]:
    if rest.startswith("["):
        try:
            value = json.loads(rest)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return ["/bin/sh", "-c", rest]


def _pairs(rest: str) -> list[tuple[str, str]]:
    words = shlex.split(rest)
    if words and "=" not in words[0]:  # legacy "ENV key value with spaces"
        return [(words[0], rest.split(None, 1)[1] if len(words) > 1 else "")]
    out = []
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise UsageError(f"invalid change {rest!r}: expected key=value", exit_code=125)
        out.append((key, value))
    return out


def apply(config: dict, changes: list[str]) -> dict:
    """A copy of an OCI ``config`` section with each change applied in order."""
    config = json.loads(json.dumps(config))
    for change in changes:
        keyword, _, rest = change.strip().partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "CMD":
            config["Cmd"] = _command(rest)
        elif keyword == "ENTRYPOINT":
            config["Entrypoint"] = _command(rest)
        elif keyword == "ENV":
            env = [e for e in config.get("Env") or []]
            for key, value in _pairs(rest):
                env = [e for e in env if e.partition("=")[0] != key] + [f"{key}={value}"]
            config["Env"] = env
        elif keyword == "LABEL":
            config["Labels"] = {**(config.get("Labels") or {}), **dict(_pairs(rest))}
        elif keyword == "WORKDIR":
            config["WorkingDir"] = rest
        elif keyword == "USER":
            config["User"] = rest
        else:
            raise UsageError(f"{keyword or change!r} is not a valid change command for import "
                             f"(use CMD, ENTRYPOINT, ENV, LABEL, USER or WORKDIR)", exit_code=125)
    return config
