"""Mount an image's layers for one container: overlayfs with the container's own upper dir.

The mount(2) data for overlayfs must fit in one page (4095 bytes + NUL); 64-hex layer dirs under a
store path use ~100 bytes each, so about 40 layers already overflow it. Like docker's ``l/`` links,
a long list is mounted through a throw-away directory of one- or two-character symlinks, with the
working directory set there so the option string holds only the short relative names. Overlayfs
resolves the paths at mount time, so the links are deleted right after.

Called inside the container's private mount namespace (after ``unshare(CLONE_NEWNS)`` and making
``/`` rprivate), in a single-threaded process: the chdir is process-wide and restored before return.
"""

from __future__ import annotations

import os
import tempfile

from runtime.linux.syscalls import MS_BIND, MS_RDONLY, MS_REC, MS_REMOUNT

MAX_DATA = 4095   # one page minus the NUL
MAX_LAYERS = 500  # overlayfs' OVL_MAX_STACK


def _escape(path: str) -> str:
    return path.replace("\\", "\\\\").replace(":", "\\:").replace(",", "\\,")


def options(lowerdirs: list[str], upperdir: str | None, workdir: str | None) -> str:
    data = "lowerdir=" + ":".join(_escape(d) for d in lowerdirs)
    if upperdir is not None:
        data += f",upperdir={_escape(upperdir)},workdir={_escape(workdir)}"
    return data


def _short(i: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    return digits[i] if i < 36 else digits[i // 36 - 1] + digits[i % 36]


def mount_overlay(sys_, lowerdirs: list[str], upperdir: str | None, workdir: str | None, target: str,
                  flags: int = 0, extra_options: str = "") -> str:
    """Mount ``lowerdirs`` (top first) plus an optional upper at ``target``; returns the data used.

    With no upper the view is read-only; a single layer with no upper is a read-only bind mount
    (overlayfs wants two lower dirs when there is no upper). ``extra_options`` (e.g. ``"volatile"``)
    are appended to the overlay's mount data.
    """
    if not lowerdirs:
        raise ValueError("overlay needs at least one lower dir")
    if len(lowerdirs) > MAX_LAYERS:
        raise ValueError(f"{len(lowerdirs)} layers: overlayfs stacks at most {MAX_LAYERS}")
    if (upperdir is None) != (workdir is None):
        raise ValueError("upperdir and workdir go together")
    if upperdir is None and len(lowerdirs) == 1:
        sys_.mount(lowerdirs[0], target, None, MS_BIND | MS_REC)
        sys_.mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags)
        return ""
    extra = f",{extra_options}" if extra_options else ""
    data = options(lowerdirs, upperdir, workdir) + extra
    if len(data) <= MAX_DATA:
        sys_.mount("overlay", target, "overlay", flags, data)
        return data
    return _mount_via_links(sys_, lowerdirs, upperdir, workdir, target, flags, extra)


def _mount_via_links(sys_, lowerdirs, upperdir, workdir, target, flags, extra="") -> str:
    parent = os.path.dirname(os.path.abspath(upperdir)) if upperdir else tempfile.gettempdir()
    links = tempfile.mkdtemp(prefix="vmvc-ovl-", dir=parent)
    target = os.path.abspath(target)
    names = [_short(i) for i in range(len(lowerdirs))]
    cwd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for name, lower in zip(names, lowerdirs, strict=True):
            os.symlink(os.path.abspath(lower), os.path.join(links, name))
        upper, work = upperdir and os.path.abspath(upperdir), workdir and os.path.abspath(workdir)
        data = options(names, upper, work) + extra
        if len(data) > MAX_DATA:
            raise ValueError("overlay options exceed a page even with short names (paths too long)")
        os.chdir(links)
        sys_.mount("overlay", target, "overlay", flags, data)
        return data
    finally:
        os.fchdir(cwd)
        os.close(cwd)
        for name in names:
            try:
                os.unlink(os.path.join(links, name))
            except FileNotFoundError:
                pass
        os.rmdir(links)
