"""Reading an image's files without mounting it: the extracted layer dirs looked through top first,
as overlayfs would (a 0/0 character device hides what is below, an opaque directory stops the merge).
Used by ``COPY --from=stage`` and to resolve ``--chown`` names and WORKDIR existence."""

from __future__ import annotations

import os
import stat


def _whiteout(path: str) -> bool:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _opaque(path: str) -> bool:
    from runtime.build.diff import _opaque as opaque  # trusted.* or, rootless, user.*

    return opaque(path)


def locate(layer_dirs: list[str], rel: str) -> str | None:
    """The host path of ``rel`` in the merged view (top layer first), or None if absent/whited out."""
    rel = rel.strip("/")
    for layer in layer_dirs:
        p = os.path.join(layer, rel) if rel else layer
        if _whiteout(p):
            return None
        if os.path.lexists(p):
            return p
        parts = rel.split("/")
        for i in range(1, len(parts)):
            up = os.path.join(layer, *parts[:i])
            if _whiteout(up) or (os.path.isdir(up) and _opaque(up) and not os.path.lexists(p)):
                return None
    return None


def listdir(layer_dirs: list[str], rel: str) -> dict[str, str]:
    """Merged directory listing: name -> host path of the visible entry."""
    out: dict[str, str] = {}
    hidden: set[str] = set()
    for layer in layer_dirs:
        d = os.path.join(layer, rel.strip("/")) if rel.strip("/") else layer
        if not os.path.isdir(d) or os.path.islink(d):
            if os.path.lexists(d):
                break  # a file or link here hides the directories below
            continue
        for name in os.listdir(d):
            if name in out or name in hidden:
                continue
            p = os.path.join(d, name)
            if _whiteout(p):
                hidden.add(name)
            else:
                out[name] = p
        if _opaque(d):
            break
    return out


def read_small(layer_dirs: list[str], rel: str, limit: int = 1 << 20) -> str:
    p = locate(layer_dirs, rel)
    if p is None or not os.path.isfile(p) or os.path.islink(p):
        return ""
    fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        return f.read(limit).decode(errors="replace")


def lookup_id(layer_dirs: list[str], name: str, group: bool = False) -> int | None:
    if name.isdigit():
        return int(name)
    for line in read_small(layer_dirs, "etc/group" if group else "etc/passwd").splitlines():
        parts = line.split(":")
        if len(parts) > 2 and parts[0] == name and parts[2].isdigit():
            return int(parts[2])
    return 0 if name == "root" else None
