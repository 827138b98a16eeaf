"""Paths inside a container's rootfs, resolved the way the container would see them.

Why. Before ``pivot_root`` the engine runs on the host's ``/``. A mount target such as ``/vol/sub``
joined onto the rootfs path with :func:`os.path.join` is resolved by the *host*: an image symlink
``vol -> /tmp/x`` or a ``..`` leads out of the rootfs, and ``makedirs``/``open`` then create files on
the host (and the bind covers a host directory). Docker's answer (``securejoin``) is to resolve every
component relative to the rootfs: ``..`` stops at its top, absolute symlinks restart at its top.

:func:`open_in_root` does that and returns an ``O_PATH`` fd; the caller mounts onto
``/proc/self/fd/N``, so nothing resolves the path again. It asks the kernel first (``openat2`` with
``RESOLVE_IN_ROOT``, Linux 5.6+); a target that does not exist yet is walked one component at a time
(symlinks read with ``readlinkat`` and followed inside the root) and the missing parts are created
with ``mkdirat``/``openat`` relative to the directory fd already resolved.

>>> fd = open_in_root("/var/lib/vmvc/c1/root", "/vol/sub/x", create="file")
>>> sys_.mount("/tmp/hostfile", f"/proc/self/fd/{fd}", None, MS_BIND)  # doctest: +SKIP

The steps of a mount plan are records here too (:class:`Mount`, :class:`Bind`, ...): the plans
(:func:`runtime.containers.init.plan` and its siblings) are pure data, so the mount logic is
unit-tested without mounting anything, and :func:`runtime.containers.init.apply` dispatches on a
step's type. Named tuples, so a step still unpacks into the call it stands for
(``sys_.mount(*step)``) and costs what a plain tuple costs.
"""

from __future__ import annotations

import errno
import os
import stat
from collections import namedtuple


def _record(name: str, fields: str, doc: str, defaults: tuple = ()) -> type:
    """A named tuple with a docstring (``collections.namedtuple``: ``typing`` would add ~2 ms to the
    spawner's start, which imports nothing else of it)."""
    cls = namedtuple(name, fields, defaults=defaults, module=__name__)
    cls.__doc__ = doc
    return cls


# the steps of a mount plan
Mkdir = _record("Mkdir", "path",
                "A directory (and its parents) at ``path``; inside the rootfs once it is mounted.")
Mount = _record("Mount", "source target fstype flags data",
                "``mount(2)`` as it is called: ``sys_.mount(*step)``.", defaults=(None,))
Mknod = _record("Mknod", "path major minor", "A character device node, mode 0666.")
Symlink = _record("Symlink", "to path", "A symlink at ``path`` pointing to ``to``.")
BindNode = _record("BindNode", "source target",
                   "Rootless: a host device node bound on an empty file (no ``mknod`` in a user namespace).")
Overlay = _record("Overlay", "layers upper work target throwaway",
                  "The image's ``layers`` under the container's ``upper`` dir, mounted at ``target``; "
                  "``throwaway`` for a ``--rm`` container (see ``init.mount_rootfs``).")
Move = _record("Move", "source target", "A staged mount moved to ``target`` (``MS_MOVE``) inside the rootfs.")
Bind = _record("Bind", "source target readonly",
               "A ``-v`` volume: ``source`` on the host bound at ``target`` inside the rootfs.")
Step = tuple  # for annotations: any one of the records above

CgroupMount = _record("CgroupMount", "path fstype options",
                      "One of the host's cgroup hierarchies: where it is mounted, ``cgroup``/``cgroup2``, "
                      "and the mount options that name it (controllers, ``name=…``), None if none do.")


MAX_SYMLINKS = 40  # the kernel's own limit (ELOOP)
_PATH = os.O_PATH | os.O_CLOEXEC | os.O_NOFOLLOW


def open_in_root(root: str, path: str, create: str | None = None) -> int:
    """An ``O_PATH`` fd of ``path`` resolved inside ``root`` (never above it).

    ``create`` ``"dir"`` or ``"file"`` makes a missing last component (and missing parents, as
    directories); ``None`` raises :class:`FileNotFoundError` instead. Raises :class:`OSError`
    (``ELOOP`` for too many symlinks, ``ENOTDIR`` for a file in the middle)."""
    root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd = _kernel_resolve(root_fd, path)
        if fd is not None:
            return fd
        return _walk(root_fd, path, create)
    finally:
        os.close(root_fd)


def _kernel_resolve(root_fd: int, path: str) -> int | None:
    """``openat2(RESOLVE_IN_ROOT)``; None when the path is missing or the kernel lacks openat2."""
    from runtime.linux.syscalls import RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, syscalls

    try:
        return syscalls().openat2(
            root_fd,
            path.lstrip("/") or ".",
            os.O_PATH | os.O_CLOEXEC,
            0,
            RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        )
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENOSYS, errno.EINVAL, errno.EPERM):
            return None
        raise


def _walk(root_fd: int, path: str, create: str | None) -> int:
    """The securejoin-style fallback: one component at a time, every symlink followed in the root."""
    todo = [p for p in path.split("/") if p and p != "."]
    stack = [os.dup(root_fd)]  # the directories from the root down to the current one
    links = 0
    try:
        while todo:
            name = todo.pop(0)
            if name == "..":
                if len(stack) > 1:
                    os.close(stack.pop())
                continue
            last = not todo
            try:
                fd = os.open(name, _PATH, dir_fd=stack[-1])
            except FileNotFoundError:
                if create is None:
                    raise
                _make(stack[-1], name, "file" if last and create == "file" else "dir")
                fd = os.open(name, _PATH, dir_fd=stack[-1])
            mode = os.fstat(fd).st_mode
            if stat.S_ISLNK(mode):
                os.close(fd)
                links += 1
                if links > MAX_SYMLINKS:
                    raise OSError(errno.ELOOP, f"too many levels of symbolic links: {path}")
                target = os.readlink(name, dir_fd=stack[-1])
                if target.startswith("/"):
                    while len(stack) > 1:
                        os.close(stack.pop())
                todo = [p for p in target.split("/") if p and p != "."] + todo
                continue
            if not last and not stat.S_ISDIR(mode):
                os.close(fd)
                raise OSError(errno.ENOTDIR, f"not a directory: {name} in {path}")
            stack.append(fd)
        return os.dup(stack[-1])
    finally:
        for fd in stack:
            os.close(fd)


def _make(dir_fd: int, name: str, kind: str) -> None:
    try:
        if kind == "dir":
            os.mkdir(name, 0o755, dir_fd=dir_fd)
        else:
            os.close(os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644,
                             dir_fd=dir_fd))  # fmt: skip
    except FileExistsError:
        pass  # made meanwhile: the caller opens (and checks) it
