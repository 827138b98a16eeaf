"""The build context: a directory (``vmvc build DIR``) or a tar stream (``POST /build``), with
``.dockerignore`` applied, and the COPY/ADD sources resolved inside it (never outside)."""

from __future__ import annotations

import glob
import os
import re
import stat
import tarfile

from runtime.errors import VmvcError


class ContextError(VmvcError):
    exit_code = 1


def extract_tar(fileobj, dest: str) -> None:
    """A context tar into ``dest``: regular files, dirs and symlinks only, nothing outside ``dest``."""
    root = os.path.realpath(dest)
    try:
        tar = tarfile.open(fileobj=fileobj, mode="r|*")
    except tarfile.TarError as e:
        raise ContextError(f"the build context is not a tar archive: {e}") from None
    with tar:
        for m in tar:
            name = os.path.normpath(m.name.lstrip("/"))
            if name in (".", "") or name.startswith(".."):
                continue
            target = os.path.join(root, name)
            parent = os.path.realpath(os.path.dirname(target))
            if parent != root and not parent.startswith(root + os.sep):
                raise ContextError(f"the build context has an entry outside itself: {m.name!r}")
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if m.isdir():
                os.makedirs(target, exist_ok=True)
                os.chmod(target, m.mode & 0o7777 | 0o700)
            elif m.issym():
                os.symlink(m.linkname, target)
            elif m.isfile():
                src = tar.extractfile(m)
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, m.mode & 0o7777)
                with os.fdopen(fd, "wb") as out:
                    while chunk := src.read(1 << 20):
                        out.write(chunk)


MAX_TEXT = 16 << 20


def read_inside(root: str, rel: str, limit: int = MAX_TEXT) -> str | None:
    """A text file of the context (the Dockerfile, ``.dockerignore``), or None if there is none: links are
    followed only while they stay inside ``root`` and only a regular file of at most ``limit`` bytes is read,
    so a context sent to the daemon cannot make it read ``/etc/shadow`` or ``/dev/zero``."""
    root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(root, os.path.normpath(rel.lstrip("/"))))
    if real != root and not real.startswith(root + os.sep):
        return None
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        if st.st_size > limit:
            raise ContextError(f"{rel} is larger than {limit >> 20} MiB")
        return f.read(limit).decode("utf-8", errors="replace")


def _pattern(p: str) -> re.Pattern:
    """A ``.dockerignore`` line as a regex: ``**`` any depth, ``*``/``?`` within one path part; a match
    on a directory covers everything under it."""
    p = os.path.normpath(p.strip().lstrip("/"))
    out, i = "", 0
    while i < len(p):
        if p.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif p.startswith("**", i):
            out, i = out + ".*", i + 2
        elif p[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif p[i] == "?":
            out, i = out + "[^/]", i + 1
        elif p[i] == "[" and "]" in p[i:]:
            j = p.index("]", i)
            out, i = out + "[" + p[i + 1:j].replace("!", "^", 1) + "]", j + 1
        else:
            out, i = out + re.escape(p[i]), i + 1
    return re.compile("^" + out + "(?:/.*)?$")


class Ignore:
    """``.dockerignore``: patterns, ``!`` exceptions, the last match wins; a dir excludes its contents."""

    def __init__(self, root: str):
        self.rules: list[tuple[bool, re.Pattern]] = []
        lines = (read_inside(root, ".dockerignore") or "").splitlines()
        for ln in lines:
            ln = ln.strip()
            if not ln or ln.startswith("#"):
                continue
            negate = ln.startswith("!")
            self.rules.append((negate, _pattern(ln[1:] if negate else ln)))

    def ignored(self, rel: str) -> bool:
        out = False
        for negate, rx in self.rules:
            if rx.match(rel):
                out = not negate
        return out


class Context:
    def __init__(self, root: str):
        self.root = os.path.realpath(root)
        self.ignore = Ignore(self.root)

    def sources(self, patterns: list[str], line: int) -> list[str]:
        """Absolute paths of the sources a COPY names; an error for any outside the context."""
        out = []
        for pat in patterns:
            rel = os.path.normpath(pat.lstrip("/"))
            if rel.startswith(".."):
                raise ContextError(f"Dockerfile:{line}: COPY failed: forbidden path outside the build "
                                   f"context: {pat}")
            hits = sorted(glob.glob(os.path.join(self.root, rel))) if glob.has_magic(rel) else \
                [os.path.join(self.root, rel)]
            hits = [h for h in hits if not self.ignore.ignored(os.path.relpath(h, self.root))
                    or os.path.relpath(h, self.root) == "."]
            if not hits or not all(os.path.lexists(h) for h in hits):
                raise ContextError(f"Dockerfile:{line}: COPY failed: file not found in build context or "
                                   f"excluded by .dockerignore: {pat}")
            for h in hits:
                real = os.path.realpath(h)
                if real != self.root and not real.startswith(self.root + os.sep):
                    raise ContextError(f"Dockerfile:{line}: COPY failed: forbidden path outside the build "
                                       f"context: {pat} ({real})")
                out.append(h)
        return out

    def walk(self, top: str):
        """(abs path, path relative to ``top``) under ``top``, ignored entries left out, links kept."""
        stack = [top]
        while stack:
            d = stack.pop()
            for name in sorted(os.listdir(d)):
                p = os.path.join(d, name)
                if self.ignore.ignored(os.path.relpath(p, self.root)):
                    continue
                yield p, os.path.relpath(p, top)
                if os.path.isdir(p) and not os.path.islink(p):
                    stack.append(p)
