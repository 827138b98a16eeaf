"""Layers: check an untrusted tar, keep it as a blob, extract it once into its own directory.

One pass over the input stream does everything: a thread hashes it (the diff id) and writes the blob,
the main thread reads every header with limits and checks it, and ``tar -x`` (GNU tar writes
thousands of files much faster than Python) runs alongside on the other core, fed through a pipe
with **only the bytes whose headers were already accepted**, then our own end-of-archive marker. So
tar never parses a header we did not check, and a rejected archive stops tar mid-way inside a
private staging directory that the caller deletes. OCI whiteouts are then turned into what
overlayfs understands: ``.wh.name`` becomes a 0/0 character device ``name``, ``.wh..wh..opq`` the
``trusted.overlay.opaque=y`` xattr on its directory.

Rejected, with an error naming the entry: absolute names, ``..``, relative symlinks or hardlinks
that lead outside the layer, any entry written through (or over) a symlink planted by an earlier
entry, device nodes (unless the caller built the archive itself), oversized headers, ``trusted.*``
xattrs, and headers that tarfile and GNU tar would read differently.
"""

from __future__ import annotations

import bz2
import collections
import contextlib
import fcntl
import gzip
import hashlib
import lzma
import os
import posixpath
import queue
import struct
import subprocess
import tarfile
import threading
import zlib
from dataclasses import dataclass, field

from runtime.errors import VmvcError
from runtime.images import limits

CHUNK = 1 << 20
MAX_HEADER_BYTES = 1 << 20  # a pax or GNU long-name header bigger than this is an attack, not a name
MAX_NAME = 4096
WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
F_SETPIPE_SZ = 1031


class UnsafeArchive(VmvcError):
    """A layer archive tried to do something a layer must not (escape, plant a device...)."""


_HEADER = struct.Struct("100s8s8s8s12s12s8sc100s8x32s32s8s8s155s")
_POSIX_MAGIC = b"ustar\x0000"
_GNU_MAGIC = b"ustar  \x00"


def _octal(field: bytes) -> int | None:
    """tarfile's nti() for the plain octal case; None for anything else (base-256, junk)."""
    if field[:1] in (b"\x80", b"\xff"):
        return None
    text = field.split(b"\0", 1)[0].strip()
    if not text:
        return 0
    try:
        return int(text, 8) if text.isdigit() else None
    except ValueError:
        return None


# Headers whose payload tarfile reads into memory as the next entry's metadata. They are refused in
# ``frombuf`` (public API, called with each header block before its payload is read), not by overriding
# tarfile's private ``_proc_member``: a Python upgrade that renamed it would silently drop the check.
_EXTENDED = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE, tarfile.GNUTYPE_LONGNAME,
             tarfile.GNUTYPE_LONGLINK)


class LimitedTarInfo(tarfile.TarInfo):
    """TarInfo that refuses what GNU tar and tarfile could read differently, and reads fast.

    - giant pax/long-name headers are refused before tarfile reads them into memory;
    - a non-POSIX header with bytes in the ustar ``prefix`` field is refused: tarfile prepends the
      prefix to the name whatever the magic, GNU tar ignores it for GNU/v7 headers, so the two
      would see different paths (and our checks must judge the path tar writes);
    - plain headers (octal numbers, good unsigned checksum) are decoded with one struct unpack, the
      rest by tarfile's own parser; both build the same TarInfo (tests compare them).
    """

    @classmethod
    def frombuf(cls, buf, encoding, errors):
        obj = cls._fast(buf, encoding, errors) or super().frombuf(buf, encoding, errors)
        if obj.type in _EXTENDED and obj.size > MAX_HEADER_BYTES:  # checked before tarfile reads it
            raise UnsafeArchive(f"unsafe layer entry {obj.name!r}: oversized header ({obj.size} bytes)")
        if buf[257:265] != _POSIX_MAGIC and obj.type not in tarfile.GNU_TYPES and buf[345:500].strip(b"\0"):
            raise UnsafeArchive(f"unsafe layer entry {obj.name!r}: ambiguous header (prefix field in a "
                                f"non-POSIX header)")
        return obj

    @classmethod
    def _fast(cls, buf, encoding, errors):
        if len(buf) != BLOCK or buf[257:265] not in (_POSIX_MAGIC, _GNU_MAGIC) \
                or buf[156:157] == tarfile.GNUTYPE_SPARSE:
            return None
        (name, mode, uid, gid, size, mtime, chksum, kind, linkname, uname, gname, devmajor, devminor,
         prefix) = _HEADER.unpack_from(buf)
        numbers = [_octal(f) for f in (mode, uid, gid, size, mtime, chksum, devmajor, devminor)]
        if None in numbers or numbers[5] != sum(buf) - sum(buf[148:156]) + 256:
            return None  # base-256, signed checksum, or invalid: tarfile decides
        obj = cls()
        obj.name = name.split(b"\0", 1)[0].decode(encoding, errors)
        obj.mode, obj.uid, obj.gid, obj.size, obj.mtime, obj.chksum, obj.devmajor, obj.devminor = numbers
        obj.type = kind
        obj.linkname = linkname.split(b"\0", 1)[0].decode(encoding, errors)
        obj.uname = uname.split(b"\0", 1)[0].decode(encoding, errors)
        obj.gname = gname.split(b"\0", 1)[0].decode(encoding, errors)
        prefix = prefix.split(b"\0", 1)[0].decode(encoding, errors)
        if obj.type == tarfile.AREGTYPE and obj.name.endswith("/"):
            obj.type = tarfile.DIRTYPE
        if obj.isdir():
            obj.name = obj.name.rstrip("/")
        if prefix and obj.type not in tarfile.GNU_TYPES:
            obj.name = prefix + "/" + obj.name
        return obj


class _Pipeline:
    """Reads the layer stream once, in big chunks: hashes it, copies it to the blob, and feeds
    ``tar -x`` only the bytes whose headers were already checked (``allow``). tar never parses a header
    we did not accept, and it runs on the other core while Python checks the next entries.

    To tarfile it is a forward-only seekable file, so skipping file data costs no copying.
    """

    def __init__(self, src, sink, out, budget=None) -> None:
        self.src, self.out, self.budget = src, out, budget
        self.keeper = _Keeper(sink)
        self.size = 0                 # bytes read from src so far
        self.chunk, self.chunk_at = b"", 0   # current chunk and its stream offset
        self.cur = 0                  # tarfile's position
        self.last, self.last_at = b"", -1    # tarfile's last read, for the end-of-archive check
        self.pending: collections.deque = collections.deque()  # (offset, chunk) not yet fully sent
        self.sent = 0                 # stream offset up to which tar got its bytes
        self.limit = 0                # stream offset up to which bytes were checked

    def _pull(self) -> bool:
        self.flush()
        data = self.src.read(CHUNK)
        if not data:
            return False
        self.keeper.put(data)
        if self.out is not None:
            self.pending.append((self.size, data))
        self.chunk, self.chunk_at = data, self.size
        self.size += len(data)
        if self.budget is not None:
            self.budget.charge(self.size)  # a bomb or a full disk stops here (runtime.images.limits)
        return True

    def read(self, n: int = -1) -> bytes:
        self.last_at = self.cur
        parts = []
        while n > 0:
            i = self.cur - self.chunk_at
            if i >= len(self.chunk) and not self._pull():
                break
            i = self.cur - self.chunk_at
            piece = self.chunk[i:i + n]
            parts.append(piece)
            self.cur += len(piece)
            n -= len(piece)
        self.last = parts[0] if len(parts) == 1 else b"".join(parts)
        return self.last

    def tell(self) -> int:
        return self.cur

    def seek(self, pos: int, whence: int = 0) -> int:
        if whence != 0 or pos < self.cur:
            raise OSError("layer streams only seek forward")
        while pos > self.chunk_at + len(self.chunk):
            self.cur = self.chunk_at + len(self.chunk)
            if not self._pull():
                break
        self.cur = min(pos, self.chunk_at + len(self.chunk))
        return self.cur

    def allow(self, upto: int) -> None:
        self.limit = upto

    def flush(self) -> None:
        """Send tar every checked byte we hold."""
        while self.pending and self.sent < self.limit:
            at, data = self.pending[0]
            a, b = self.sent - at, min(self.limit - at, len(data))
            if b > a:
                self.out.write(memoryview(data)[a:b])
                self.sent = at + b
            if b < len(data):
                break
            self.pending.popleft()

    def trailer_ok(self, offset: int) -> bool:
        """After the last member: only end-of-archive zero blocks may follow (or nothing at all)."""
        if offset != self.last_at:  # tarfile's last read was not the block at offset: do not guess
            return False
        return not self.last[:BLOCK].strip(b"\0")

    def drain(self) -> None:
        self.out, self.pending = None, collections.deque()
        while self._pull():
            pass


BLOCK = tarfile.BLOCKSIZE


class _Keeper(threading.Thread):
    """Hashes and writes the blob on a second thread: both release the GIL, so this overlaps with
    header checking on the main thread instead of adding to it."""

    def __init__(self, sink) -> None:
        super().__init__(name="vmvc-layer-keeper", daemon=True)
        self.sink, self.sha, self.error = sink, hashlib.sha256(), None
        self.queue: queue.Queue = queue.Queue(maxsize=16)
        self.start()

    def put(self, data: bytes) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(data)

    def run(self) -> None:
        while (data := self.queue.get()) is not None:
            if self.error is not None:
                continue
            try:
                self.sha.update(data)
                if self.sink is not None:
                    self.sink.write(data)
            except OSError as e:
                self.error = e

    def digest(self) -> str:
        """Wait for every chunk; the blob's sha256."""
        self.queue.put(None)
        self.join()
        if self.error is not None:
            raise self.error
        return "sha256:" + self.sha.hexdigest()

    def stop(self) -> None:
        if self.is_alive():
            self.error = self.error or OSError("stopped")
            self.queue.put(None)
            self.join()


# What a decompressor raises on bad input. bz2 raises a bare OSError("Invalid data stream"); a real
# I/O error (errno set, e.g. ENOSPC while keeping the blob) is told apart by :func:`describe`.
try:  # ISA-L inflates gzip ~2.5x faster than zlib (most of a pull's CPU); same API and errors otherwise
    from isal import igzip as _igzip
    from isal import isal_zlib as _isal_zlib

    _GzipFile, _ISAL_ERRORS = _igzip.IGzipFile, (_isal_zlib.error,)
except ImportError:  # pragma: no cover - isal is a dependency; a bare checkout still works
    _GzipFile, _ISAL_ERRORS = gzip.GzipFile, ()
DECOMPRESS_ERRORS = (EOFError, lzma.LZMAError, zlib.error, gzip.BadGzipFile, OSError, *_ISAL_ERRORS)


def bad_input(e: BaseException, what: str) -> VmvcError:
    """One-line error for a decompression/parse failure; a real I/O error (ENOSPC...) says so."""
    if isinstance(e, OSError) and e.errno is not None:
        return VmvcError(f"importing failed: {e.strerror or e}")
    return UnsafeArchive(f"{what}: {str(e) or type(e).__name__}")


def decompressed(src):
    """Wrap ``src`` (a binary stream) in the decompressor its magic bytes ask for."""
    head = src.peek(6)[:6] if hasattr(src, "peek") else b""
    if not hasattr(src, "peek"):
        import io

        src = io.BufferedReader(src, CHUNK)
        head = src.peek(6)[:6]
    if head.startswith(b"\x1f\x8b"):
        return _GzipFile(fileobj=src, mode="rb")
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
    # (data offset, data size, path) of every regular file with data, in archive order, and whether
    # some path occurs twice (then the layer dir cannot give back the first one's bytes)
    files: list[tuple[int, int, str]] = field(default_factory=list)
    repeats: bool = False


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
        self.files: list[tuple[int, int, str]] = []
        self.repeats = False

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
        if name in self.result_names:
            self.repeats = True
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
        elif m.issparse() or not (m.isreg() or m.isdir() or m.isfifo()):
            raise UnsafeArchive(f"unsafe layer entry {m.name!r}: unsupported type {m.type!r}")
        if m.size and not m.isreg():  # tar implementations disagree on skipping such data: refuse
            raise UnsafeArchive(f"unsafe layer entry {m.name!r}: data on a non-regular entry")
        for key in m.pax_headers:
            if key.partition(".xattr.")[2].startswith("trusted."):
                raise UnsafeArchive(f"unsafe layer entry {m.name!r}: sets {key.partition('.xattr.')[2]!r} "
                                    f"(trusted.* xattrs steer overlayfs itself)")
        base = posixpath.basename(name)
        if base == OPAQUE:
            self.opaques.append(posixpath.dirname(name))
        elif base.startswith(WHITEOUT):
            if base[len(WHITEOUT):] in ("", ".", ".."):  # would hide the directory itself or its parent
                raise UnsafeArchive(f"unsafe layer entry {m.name!r}: whiteout of "
                                    f"{base[len(WHITEOUT):]!r} (no such name can be hidden)")
            self.whiteouts.append(name)
        if m.isreg():
            self.content += m.size
            if m.size:
                self.files.append((m.offset_data, m.size, name))
        self.result_names.add(name)


def _tar_command(dest: str) -> list[str]:
    cmd = ["tar", "-x", "-f", "-", "-C", dest, "--numeric-owner"]
    if os.geteuid() == 0:
        return cmd + ["-p", "--same-owner", "--xattrs", "--xattrs-include=*", "--xattrs-exclude=trusted.*"]
    return cmd + ["--no-same-owner"]


def ingest(src, blob_path: str | None, dest: str | None, trusted: bool = False) -> Checked:
    """Check a layer tar from ``src`` (maybe compressed) and, as it streams, keep it and extract it.

    ``blob_path``: where to write the uncompressed tar (None: do not keep it). ``dest``: an empty
    directory to extract into (None: only check and hash). On any error the caller removes both.
    """
    sink = open(blob_path, "wb") if blob_path else None
    tar = pipe = None
    try:
        if dest is not None:
            tar = subprocess.Popen(_tar_command(dest), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
            with contextlib.suppress(OSError):
                fcntl.fcntl(tar.stdin.fileno(), F_SETPIPE_SZ, CHUNK)
        raw, meter = limits.metered(src)
        where = os.path.dirname(blob_path or dest or "") or None
        budget = limits.Budget(where, meter)
        pipe = _Pipeline(decompressed(raw), sink, tar.stdin if tar else None, budget)
        checker = _Checker(trusted)
        try:
            with tarfile.open(fileobj=pipe, mode="r:", tarinfo=LimitedTarInfo) as tf:
                while (member := tf.next()) is not None:
                    tf.members.clear()  # constant memory, whatever the number of entries
                    checker.check(member)
                    pipe.allow(member.offset_data + (_blocks(member.size) if member.isreg() else 0))
                if tf.offset and not pipe.trailer_ok(tf.offset):
                    raise UnsafeArchive(f"not a valid layer tar: unreadable header at byte {tf.offset}")
            pipe.flush()
        except tarfile.TarError as e:
            raise UnsafeArchive(f"not a valid layer tar: {e}") from None
        except BrokenPipeError:
            _finish(tar)  # raises with tar's own message
            raise
        except (*DECOMPRESS_ERRORS, UnicodeError) as e:
            raise bad_input(e, "not a valid layer tar") from None
        except ValueError as e:  # tarfile's own parsers (a malformed GNU sparse map, pax numbers)
            raise UnsafeArchive(f"not a valid layer tar: malformed header ({str(e)[:80]})") from None
        if tar is not None:
            tar.stdin.write(bytes(2 * BLOCK))  # our own end marker: tar sees nothing we did not check
        pipe.drain()
        diff_id = pipe.keeper.digest()
        _finish(tar)
        tar = None
        return Checked(diff_id=diff_id, blob_size=pipe.size,
                       content_size=checker.content, whiteouts=checker.whiteouts, opaques=checker.opaques,
                       names=checker.result_names, files=checker.files, repeats=checker.repeats)
    finally:
        if pipe is not None:
            pipe.keeper.stop()
        if sink is not None:
            sink.close()
        if tar is not None:  # failed: stop tar before the caller deletes its directory
            tar.kill()
            tar.wait()
            with contextlib.suppress(OSError):
                tar.stdin.close()
            tar.stderr.close()


def _blocks(size: int) -> int:
    return (size + BLOCK - 1) // BLOCK * BLOCK


def _finish(tar) -> None:
    if tar is None:
        return
    with contextlib.suppress(BrokenPipeError):
        tar.stdin.close()
    err = tar.stderr.read().decode(errors="replace").strip().splitlines()
    tar.stderr.close()
    if tar.wait() != 0:
        raise VmvcError(f"extracting layer failed: {err[0] if err else 'tar exit ' + str(tar.returncode)}")


def finish_extract(dest: str, checked: Checked) -> None:
    """After a successful ingest into ``dest``: convert whiteouts (as root; overlayfs needs root) and
    normalise the layer root to root:root 0755 (an archive's ``./`` entry may say 0777: a layer dir
    writable by anyone; the container's ``/`` takes its modes from its own upper dir anyway)."""
    os.chmod(dest, 0o755)
    from runtime.rootless import USERNS

    if os.geteuid() == 0 and not USERNS:
        os.chown(dest, 0, 0)
        apply_whiteouts(dest, checked)
    else:  # rootless (runtime.rootless): its overlays use userxattr; 0/0 whiteouts need no privilege
        apply_whiteouts(dest, checked, "user.overlay.opaque")


def apply_whiteouts(dest: str, checked: Checked, opaque: str = "trusted.overlay.opaque") -> None:
    """OCI whiteout files -> overlayfs whiteouts (0/0 char devices) and opaque-directory xattrs."""
    for d in checked.opaques:
        directory = os.path.join(dest, d) if d else dest
        os.unlink(os.path.join(directory, OPAQUE))
        os.setxattr(directory, opaque, b"y", follow_symlinks=False)
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
    """Remove a file or a whole tree; one already gone (concurrent GC) is fine. No recursion and no
    symlink following (:func:`runtime.linux.safefs.rmtree`): an image may ship a tree deeper than
    Python's recursion limit."""
    from runtime.linux import safefs

    safefs.rmtree(path)
