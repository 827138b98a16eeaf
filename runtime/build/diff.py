"""A container's upper directory -> an OCI layer tar: what a RUN step changed.

overlayfs records a deletion as a 0/0 character device and a replaced directory as one with the
``trusted.overlay.opaque`` xattr; OCI layers say the same with ``.wh.NAME`` files and ``.wh..wh..opq``.
Files keep their mode, owner and mtime. Walked iteratively (no recursion limit), without following
links: the tree is the container's and may be hostile.
"""

from __future__ import annotations

import os
import stat
import tarfile

OPAQUE = "trusted.overlay.opaque"
USER_OPAQUE = "user.overlay.opaque"  # rootless overlays (``userxattr``) keep it here


def _opaque(path: str) -> bool:
    for name in (OPAQUE, USER_OPAQUE):
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            pass
    return False


def write_layer(upper: str, out) -> int:
    """Write the tar of ``upper``'s changes to the binary file ``out``; returns the entry count."""
    n = 0
    links: dict[tuple[int, int], str] = {}
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        stack = [""]
        while stack:
            rel = stack.pop()
            full = os.path.join(upper, rel) if rel else upper
            names = sorted(os.listdir(full))
            if rel and _opaque(full):
                tar.addfile(_info(os.path.join(rel, ".wh..wh..opq"), tarfile.REGTYPE, os.lstat(full)))
                n += 1
            for name in names:
                r = os.path.join(rel, name) if rel else name
                p = os.path.join(upper, r)
                st = os.lstat(p)
                if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:  # an overlay whiteout
                    tar.addfile(_info(os.path.join(rel, ".wh." + name), tarfile.REGTYPE, st, size=0))
                    n += 1
                    continue
                if stat.S_ISDIR(st.st_mode):
                    tar.addfile(_info(r, tarfile.DIRTYPE, st))
                    stack.append(r)
                elif stat.S_ISLNK(st.st_mode):
                    info = _info(r, tarfile.SYMTYPE, st)
                    info.linkname = os.readlink(p)
                    tar.addfile(info)
                elif stat.S_ISREG(st.st_mode):
                    if st.st_nlink > 1 and (st.st_dev, st.st_ino) in links:
                        info = _info(r, tarfile.LNKTYPE, st)
                        info.linkname = links[(st.st_dev, st.st_ino)]
                        tar.addfile(info)
                    else:
                        links[(st.st_dev, st.st_ino)] = r
                        fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
                        with os.fdopen(fd, "rb") as f:
                            tar.addfile(_info(r, tarfile.REGTYPE, st, size=st.st_size), f)
                elif stat.S_ISFIFO(st.st_mode):
                    tar.addfile(_info(r, tarfile.FIFOTYPE, st))
                else:
                    continue  # device nodes are never part of a layer (the store refuses them too)
                n += 1
    return n


def write_layer_flushed(upper: str, out) -> None:
    """:func:`write_layer`, then flush ``out``: for a rootless build, which writes the layer from a
    child in the user's namespace (:func:`runtime.rootless.launch.run_mapped`: only there can every
    file of the upper dir be read, with the owners the container gave them) that skips Python's exit."""
    write_layer(upper, out)
    out.flush()


def _info(name: str, kind: bytes, st: os.stat_result, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid = st.st_uid, st.st_gid
    info.mtime = int(st.st_mtime)
    info.size = size
    return info
