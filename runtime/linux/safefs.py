"""Reading, walking and deleting files that a container or an image shaped: safe against any shape.

Host-side code (the janitor, recovery, ``rm``, the image store, ``exec -u``) touches trees and files
that an untrusted process made. Whatever it made must not stop the engine:

- **very deep trees** (100 000 nested directories are one shell loop away): no recursion, and no path
  longer than one name. The walkers keep one directory fd open and climb back with ``openat("..")``,
  checking each parent is the directory they came from (device and inode), so neither Python's
  recursion limit, ``PATH_MAX`` nor ``RLIMIT_NOFILE`` bounds the depth;
- **FIFOs and devices where a file is expected**: opens are ``O_NONBLOCK`` and a read goes ahead only
  when ``fstat`` says regular file (a FIFO ``/etc/passwd`` once froze the engine);
- **symlinks**: never followed while walking or deleting (``O_NOFOLLOW``, ``follow_symlinks=False``);
  :func:`read_file` follows them only when asked (inside a container's own root that is correct);
- **huge files**: reads stop at a caller's cap;
- **mounts inside a tree**: deleting never crosses into another filesystem.

Errors are ``OSError`` subclasses with a one-line message, so callers that already handle an
unreadable file handle these too.
"""

from __future__ import annotations

import errno
import os
import stat

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class NotRegular(OSError):
    """A regular file was expected; something else (FIFO, device, socket, directory) is there."""


class TooLarge(OSError):
    """A file is bigger than the caller is willing to read."""


class Moved(OSError):
    """A directory changed place while it was being walked: the walk stops rather than guess."""


def read_file(path: str, limit: int, *, dir_fd: int | None = None, follow: bool = True) -> bytes:
    """The contents of the regular file ``path``, at most ``limit`` bytes (more raises :class:`TooLarge`).

    Never blocks: a FIFO, device or socket raises :class:`NotRegular` without being read.
    """
    with open_regular(path, dir_fd=dir_fd, follow=follow) as f:
        out = f.read(limit + 1)
    if len(out) > limit:
        raise TooLarge(errno.EFBIG, f"{path} is larger than {limit} bytes")
    return out


def open_regular(path: str, *, dir_fd: int | None = None, follow: bool = False):
    """A binary file object for the regular file ``path`` (never a FIFO or device; no blocking open)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    fd = os.open(path, flags, dir_fd=dir_fd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegular(errno.EINVAL, f"{path} is not a regular file ({_kind(st.st_mode)})")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def open_beneath(root: str, rel: str):
    """:func:`open_regular` of ``rel`` inside the directory ``root``, never leaving it: ``rel`` must be
    relative without ``..``, and no component (directory or file) may be a symlink, since a symlink
    in an image's layer points into *the container's* root, not the host's."""
    with Beneath(root) as beneath:
        return beneath.open(rel)


class Beneath:
    """:func:`open_beneath` for many files of one tree: the last parent directory's fd is kept, so
    files read in archive order (grouped by directory) cost one ``openat`` each, not one per level."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.parent: tuple[str, ...] | None = None
        self.fd: int | None = None

    def open(self, rel: str):
        parts = [p for p in rel.split("/") if p not in ("", ".")]
        if rel.startswith("/") or ".." in parts or not parts:
            raise NotRegular(errno.EINVAL, f"{rel!r} is not a plain relative path")
        parent = tuple(parts[:-1])
        if parent != self.parent:
            self.close()
            fd = os.open(self.root, _DIR_FLAGS)
            try:
                for part in parent:
                    child = os.open(part, _DIR_FLAGS, dir_fd=fd)
                    os.close(fd)
                    fd = child
            except BaseException:
                os.close(fd)
                raise
            self.parent, self.fd = parent, fd
        return open_regular(parts[-1], dir_fd=self.fd)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
        self.parent, self.fd = None, None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISDIR, "a directory"), (stat.S_ISLNK, "a symlink")):
        if test(mode):
            return name
    return "not a file"


class _Frame:
    """One directory on the way down: its name in the parent, its identity, subdirs still to visit."""

    __slots__ = ("name", "ident", "todo", "rel")

    def __init__(self, name, ident, rel) -> None:
        self.name, self.ident, self.rel = name, ident, rel
        self.todo: list[tuple[str, int]] | None = None


def _climb(fd: int, parent: _Frame, top: str) -> int:
    """``openat(fd, "..")``, checked to be the directory we came down from."""
    up = os.open("..", _DIR_FLAGS, dir_fd=fd)
    st = os.fstat(up)
    if (st.st_dev, st.st_ino) != parent.ident:
        os.close(up)
        raise Moved(errno.ESTALE, f"a directory under {top} moved while it was being walked")
    return up


def _descend(fd: int, name: str, ino: int) -> int | None:
    """Open subdirectory ``name`` (never through a symlink); None if it vanished or was replaced."""
    try:
        child = os.open(name, _DIR_FLAGS, dir_fd=fd)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
            return None
        raise
    if os.fstat(child).st_ino != ino:
        os.close(child)
        return None
    return child


def _join(rel: str | None, name: str) -> str | None:
    if rel is None:
        return None
    return f"{rel}/{name}" if rel else name


def _depth_first(path: str, paths: bool, leave=None):
    """The one traversal under ``walk`` and ``rmtree``: every directory from ``path`` down, iteratively,
    with one open directory fd at a time (no depth limit, no ``PATH_MAX``).

    Yields ``(fd, frame, dev)`` on entering each directory; the caller lists ``fd`` and sets
    ``frame.todo`` to the ``(name, inode)`` of the subdirectories to enter next. A subdirectory that
    vanished or was replaced meanwhile is skipped; climbing back checks ``..`` is where we came from
    (:class:`Moved` otherwise); after leaving one, ``leave(name, parent_fd)`` runs (rmtree's rmdir)."""
    fd = os.open(path, _DIR_FLAGS)
    try:
        st = os.fstat(fd)
        dev = st.st_dev
        stack = [_Frame(None, (dev, st.st_ino), "" if paths else None)]
        yield fd, stack[0], dev
        while stack:
            frame = stack[-1]
            if frame.todo:
                name, ino = frame.todo.pop()
                child = _descend(fd, name, ino)
                if child is not None:
                    os.close(fd)
                    fd = child
                    stack.append(_Frame(name, (dev, ino), _join(frame.rel, name)))
                    yield fd, stack[-1], dev
                continue
            stack.pop()
            if stack:
                up = _climb(fd, stack[-1], path)
                os.close(fd)
                fd = up
                if leave is not None:
                    leave(frame.name, fd)
    finally:
        os.close(fd)


def walk(path: str, *, paths: bool = True):
    """Yield ``(rel, st)`` for every entry under the directory ``path`` (not ``path`` itself), parents
    before children, ``st`` from ``lstat``. ``rel`` is the path relative to ``path`` (None unless
    ``paths``: relative paths of a 100 000-deep tree would cost quadratic memory). Symlinks are not
    followed and other filesystems (mounts) are not entered."""
    tree = _depth_first(path, paths)
    try:
        for fd, frame, dev in tree:
            frame.todo = []
            with os.scandir(fd) as it:
                for entry in it:
                    try:
                        est = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue
                    yield _join(frame.rel, entry.name), est
                    if stat.S_ISDIR(est.st_mode) and est.st_dev == dev:
                        frame.todo.append((entry.name, est.st_ino))
            frame.todo.reverse()  # visited in the order listed
    finally:
        tree.close()  # its fd, also when the caller stops early


def disk_usage(path: str) -> int:
    """Bytes allocated under ``path`` (itself included; hardlinked files counted once); 0 if missing."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return 0
    total = st.st_blocks * 512
    if not stat.S_ISDIR(st.st_mode):
        return total
    seen = set()
    for _, st in walk(path, paths=False):
        if st.st_nlink > 1 and not stat.S_ISDIR(st.st_mode):
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
        total += st.st_blocks * 512
    return total


def rmtree(path: str) -> None:
    """Delete ``path`` and everything under it; a path already gone is fine.

    Iterative with one open directory fd, so no depth stops it; never follows a symlink; refuses to
    cross into a mount inside the tree (``OSError(EXDEV)``) rather than delete another filesystem.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        _unlink(path, None)
        return
    tree = _depth_first(path, False, leave=_rmdir)
    try:
        for fd, frame, dev in tree:
            frame.todo = []
            with os.scandir(fd) as it:
                for entry in it:
                    if not entry.is_dir(follow_symlinks=False):
                        _unlink(entry.name, fd)
                        continue
                    try:
                        est = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue
                    if est.st_dev != dev:
                        raise OSError(errno.EXDEV, f"{path} holds a mount point: not removed")
                    frame.todo.append((entry.name, est.st_ino))
    finally:
        tree.close()
    _rmdir(path, None)


def _unlink(name: str, dir_fd: int | None) -> None:
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass


def _rmdir(name: str, dir_fd: int | None) -> None:
    try:
        os.rmdir(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass
