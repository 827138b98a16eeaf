"""Keep a layer's tar without keeping its bytes twice: headers here, file contents in the layer dir.

``save`` must hand out a layer tar byte-for-byte identical to the one imported (its sha256 is the
diff id the image config names), yet the extracted layer directory already holds every file's
content. Like docker's tar-split, we keep only what the directory cannot give back: the raw bytes
*between* file contents (headers, pax records, padding, the end-of-archive blocks) and, for each
file, its path and size. Reading back interleaves the two and re-hashes the result, so a layer
directory that changed on disk is caught instead of exported.

Not possible (the caller then keeps the whole tar): a path that occurs twice in the archive (the
directory keeps only the last), or a whiteout file with contents (the directory drops it).

Format: ``MAGIC``, then records ``b"R" <u32 n> <n raw bytes>`` and ``b"F" <u64 size> <u16 n> <path>``.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import struct

from runtime.errors import VmvcError
from runtime.images.layers import WHITEOUT, Checked

MAGIC = b"VMVCTS1\n"
MAX_TRAILER = 1 << 20
_RAW, _FILE = struct.Struct("<cI"), struct.Struct("<cQH")


def make(blob_path: str, checked: Checked) -> bytes | None:
    """The skeleton of a checked layer blob, or None when the layer dir cannot rebuild it."""
    if checked.repeats or any(posixpath.basename(p).startswith(WHITEOUT) for _, _, p in checked.files):
        return None
    out = [MAGIC]
    pos = 0
    with open(blob_path, "rb") as f:
        fd = f.fileno()
        for offset, size, path in checked.files:
            raw = os.pread(fd, offset - pos, pos)
            out += [_RAW.pack(b"R", len(raw)), raw]
            name = path.encode("utf-8", "surrogateescape")
            out += [_FILE.pack(b"F", size, len(name)), name]
            pos = offset + size
        if checked.blob_size - pos > MAX_TRAILER:
            return None
        raw = os.pread(fd, checked.blob_size - pos, pos)
    out += [_RAW.pack(b"R", len(raw)), raw]
    return b"".join(out)


class Reader:
    """The original layer tar as a read-only stream, rebuilt from a skeleton and the layer dir."""

    def __init__(self, skeleton_path: str, layer_dir: str, diff_id: str) -> None:
        with open(skeleton_path, "rb") as f:
            self.skeleton = f.read()
        if not self.skeleton.startswith(MAGIC):
            raise VmvcError(f"{skeleton_path}: not a vmvc tar-split file")
        self.layer_dir, self.diff_id = layer_dir, diff_id
        self.beneath = None  # runtime.linux.safefs.Beneath, opened on the first file
        self.parts = self._parts()
        self.buf, self.pos = b"", 0
        self.sha = hashlib.sha256()

    def _parts(self):
        data, i = self.skeleton, len(MAGIC)
        while i < len(data):
            kind = data[i:i + 1]
            if kind == b"R" and i + _RAW.size <= len(data):
                _, n = _RAW.unpack_from(data, i)
                i += _RAW.size
                if i + n > len(data):
                    break
                yield data[i:i + n]
                i += n
            elif kind == b"F" and i + _FILE.size <= len(data):
                _, size, n = _FILE.unpack_from(data, i)
                i += _FILE.size
                if i + n > len(data):
                    break
                path = data[i:i + n].decode("utf-8", "surrogateescape")
                i += n
                yield from self._file(path, size)
            else:
                break
        if i != len(data):
            raise VmvcError(f"layer {self.diff_id}: corrupt tar-split record at byte {i}")

    def _file(self, path: str, size: int):
        from runtime.linux import safefs

        if self.beneath is None:
            self.beneath = safefs.Beneath(self.layer_dir)
        try:  # never outside the layer dir, never through a symlink, never a FIFO (a corrupt record)
            f = self.beneath.open(path)
        except OSError as e:
            raise VmvcError(f"layer {self.diff_id}: cannot read {path}: {e.strerror or e}") from None
        with f:
            left = size
            while left:
                chunk = f.read(min(left, 1 << 20))
                if not chunk:
                    break
                left -= len(chunk)
                yield chunk
            if left or f.read(1):
                raise VmvcError(f"layer {self.diff_id}: {path} changed size on disk; cannot rebuild its tar")

    def read(self, n: int = -1) -> bytes:
        out, want = [], n
        while want != 0:
            if self.pos >= len(self.buf):
                piece = next(self.parts, None)
                if piece is None:
                    break
                self.sha.update(piece)
                self.buf, self.pos = piece, 0
            left = len(self.buf) - self.pos
            take = left if want < 0 else min(want, left)
            out.append(self.buf[self.pos:self.pos + take])
            self.pos += take
            if want > 0:
                want -= take
        return out[0] if len(out) == 1 else b"".join(out)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.parts.close()
        if self.beneath is not None:
            self.beneath.close()

    def verify(self) -> None:
        """After the last byte: the rebuilt tar must hash to the diff id."""
        if self.pos < len(self.buf) or next(self.parts, None) is not None:
            raise VmvcError(f"layer {self.diff_id}: tar-split rebuilt more bytes than the layer has")
        if "sha256:" + self.sha.hexdigest() != self.diff_id:
            raise VmvcError(f"layer {self.diff_id} changed on disk; its tar cannot be rebuilt")
