"""Layers: check an untrusted tar, keep it as a blob, extract it once into its own directory.

One pass over the input (hashing, copying to the blob, reading every header with limits) decides
whether the archive is safe *before* anything is written where it could matter; only then does GNU
tar (much faster than Python's tarfile at writing thousands of files) extract the already-checked
blob into a private staging directory. OCI whiteouts are then turned into what overlayfs
understands: ``.wh.name`` becomes a 0/0 character device ``name``, ``.wh..wh..opq`` becomes the
``trusted.overlay.opaque=y`` xattr on its directory.

Rejected, with an error naming the entry: absolute names, ``..``, relative symlinks or hardlinks
that lead outside the layer, any entry written through (or over) a symlink planted by an earlier
entry, device nodes (unless the caller built the archive itself), and oversized headers.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import os
import posixpath
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field

from runtime.errors import VmvcError

CHUNK = 1 << 20
MAX_HEADER_BYTES = 1 << 20  # a pax or GNU long-name header bigger than this is an attack, not a name
MAX_NAME = 4096
WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"


class UnsafeArchive(VmvcError):
    """A layer archive tried to do something a layer must not (escape, plant a device...)."""


class _LimitedTarInfo(tarfile.TarInfo):
    """TarInfo that refuses giant pax/long-name headers before tarfile reads them into memory."""

    def _proc_member(self, tf):
        if self.type in (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE,
                         tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK) and self.size > MAX_HEADER_BYTES:
            raise UnsafeArchive(f"unsafe layer entry {self.name!r}: oversized header ({self.size} bytes)")
        return super()._proc_member(tf)


class _Tee:
    """A read-only stream that hashes and copies everything read through it."""

    def __init__(self, src, sink) -> None:
        self.src, self.sink = src, sink
        self.sha = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self.src.read(n if n and n > 0 else CHUNK)
        if data:
            self.sha.update(data)
            self.sink.write(data)
            self.size += len(data)
        return data

    def drain(self) -> None:
        while self.read(CHUNK):
            pass


def decompressed(src):
    """Wrap ``src`` (a binary stream) in the decompressor its magic bytes ask for."""
    head = src.peek(6)[:6] if hasattr(src, "peek") else b""
    if not hasattr(src, "peek"):
        import io

        src = io.BufferedReader(src, CHUNK)
        head = src.peek(6)[:6]
    if head.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=src, mode="rb")
    if head.startswith(b"BZh"):
        return bz2.BZ2File(src)
    if head.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(src)
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        raise VmvcError("zstd-compressed layers are not supported; decompress first (zstd -d)")
    return src


@dataclass
class Checked:
    """What the safety pass learned about one layer archive."""

    diff_id: str
    blob_size: int
    content_size: int = 0
    whiteouts: list[str] = field(default_factory=list)   # paths of `.wh.x` entries
    opaques: list[str] = field(default_factory=list)     # directories holding `.wh..wh..opq`
    names: set[str] = field(default_factory=set)


def _clean(name: str, what: str, entry: str) -> str:
    if len(name) > MAX_NAME:
        raise UnsafeArchive(f"unsafe layer entry {entry[:80]!r}: {what} longer than {MAX_NAME}")
    if "\x00" in name:
        raise UnsafeArchive(f"unsafe layer entry {entry!r}: NUL in {what}")
    if name.startswith("/"):
        raise UnsafeArchive(f"unsafe layer entry {entry!r}: absolute {what}")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchive(f"unsafe layer entry {entry!r}: '..' in {what}")
    return "/".join(parts)


class _Checker:
    """Per-entry rules; keeps the set of symlinks planted so far."""

    def __init__(self, trusted: bool) -> None:
        self.trusted = trusted
        self.symlinks: set[str] = set()
        self.result_names: set[str] = set()
        self.whiteouts: list[str] = []
        self.opaques: list[str] = []
        self.content = 0

    def _through_symlink(self, path: str, entry: str, what: str) -> None:
        parts = path.split("/")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in self.symlinks:
                raise UnsafeArchive(f"unsafe layer entry {entry!r}: {what} goes through symlink "
                                    f"{'/'.join(parts[:i])!r}")

    def check(self, m: tarfile.TarInfo) -> None:
        name = _clean(m.name, "path", m.name)
        if not name:
            if not m.isdir():
                raise UnsafeArchive(f"unsafe layer entry {m.name!r}: not a directory at the layer root")
            return
        self._through_symlink(name, m.name, "path")
        if name in self.symlinks:
            raise UnsafeArchive(f"unsafe layer entry {m.name!r}: overwrites symlink planted earlier")
        if m.issym():
            target = m.linkname
            if "\x00" in target or len(target) > MAX_NAME:
                raise UnsafeArchive(f"unsafe layer entry {m.name!r}: bad symlink target")
            if not target.startswith("/"):
                # Absolute targets resolve inside the container's root; relative ones must stay inside.
                joined = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
                if joined == ".." or joined.startswith("../"):
                    raise UnsafeArchive(f"unsafe layer entry {m.name!r}: symlink to {target!r} leads "
                                        f"outside the layer")
            self.symlinks.add(name)
        elif m.islnk():
            target = _clean(m.linkname, "hardlink target", m.name)
            if not target:
                raise UnsafeArchive(f"unsafe layer entry {m.name!r}: hardlink to the layer root")
            self._through_symlink(target, m.name, "hardlink target")
            if target in self.symlinks:
                raise UnsafeArchive(f"unsafe layer entry {m.name!r}: hardlink to a symlink")
            if target not in self.result_names:
                raise UnsafeArchive(f"unsafe layer entry {m.name!r}: hardlink to {m.linkname!r}, "
                                    f"which is not earlier in the layer")
        elif m.ischr() or m.isblk():
            if not self.trusted:
                raise UnsafeArchive(f"unsafe layer entry {m.name!r}: device node in an untrusted image")
        elif not (m.isreg() or m.isdir() or m.isfifo()):
            raise UnsafeArchive(f"unsafe layer entry {m.name!r}: unsupported type {m.type!r}")
        base = posixpath.basename(name)
        if base == OPAQUE:
            self.opaques.append(posixpath.dirname(name))
        elif base.startswith(WHITEOUT):
            self.whiteouts.append(name)
        if m.isreg():
            self.content += m.size
        self.result_names.add(name)


def check_and_copy(src, blob_path: str, trusted: bool = False) -> Checked:
    """One pass over ``src``: write the uncompressed tar to ``blob_path``, hash it, check every header."""
    with open(blob_path, "wb") as sink:
        tee = _Tee(decompressed(src), sink)
        checker = _Checker(trusted)
        try:
            with tarfile.open(fileobj=tee, mode="r|", tarinfo=_LimitedTarInfo, bufsize=CHUNK) as tf:
                for member in tf:
                    checker.check(member)
        except tarfile.TarError as e:
            raise UnsafeArchive(f"not a valid layer tar: {e}") from None
        except (EOFError, OSError, lzma.LZMAError, UnicodeError) as e:
            raise UnsafeArchive(f"not a valid layer tar: {e}") from None
        tee.drain()
    return Checked(diff_id="sha256:" + tee.sha.hexdigest(), blob_size=tee.size,
                   content_size=checker.content, whiteouts=checker.whiteouts, opaques=checker.opaques,
                   names=checker.result_names)


def extract(blob_path: str, dest: str, checked: Checked) -> None:
    """Extract a checked blob into ``dest`` (new, empty) and convert whiteouts for overlayfs."""
    root = os.geteuid() == 0
    cmd = ["tar", "-x", "-f", blob_path, "-C", dest, "--numeric-owner"]
    cmd += ["-p", "--same-owner", "--xattrs", "--xattrs-include=*"] if root else ["--no-same-owner"]
    done = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if done.returncode != 0:
        msg = done.stderr.decode(errors="replace").strip().splitlines()
        raise VmvcError(f"extracting layer failed: {msg[0] if msg else 'tar exit ' + str(done.returncode)}")
    if root:
        apply_whiteouts(dest, checked)


def apply_whiteouts(dest: str, checked: Checked) -> None:
    """OCI whiteout files -> overlayfs whiteouts (0/0 char devices) and opaque-directory xattrs."""
    for d in checked.opaques:
        directory = os.path.join(dest, d) if d else dest
        os.unlink(os.path.join(directory, OPAQUE))
        os.setxattr(directory, "trusted.overlay.opaque", b"y", follow_symlinks=False)
    for path in checked.whiteouts:
        parent, base = posixpath.split(path)
        hidden = base[len(WHITEOUT):]
        os.unlink(os.path.join(dest, path))
        if base.startswith(".wh..wh."):
            continue  # other aufs metadata (.wh..wh.plnk, ...): drop
        if posixpath.join(parent, hidden) in checked.names:
            continue  # the layer itself re-creates it: its own entry already hides the lower one
        os.mknod(os.path.join(dest, parent, hidden), 0o600 | 0o020000, os.makedev(0, 0))


def remove_tree(path: str) -> None:
    """Remove a file or a whole tree; one already gone (concurrent GC) is fine."""
    if not os.path.isdir(path) or os.path.islink(path):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        return

    def onerror(func, p, exc):
        if isinstance(exc[1], FileNotFoundError):
            return
        raise exc[1]

    shutil.rmtree(path, onerror=onerror)
