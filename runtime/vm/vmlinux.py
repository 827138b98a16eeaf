"""The uncompressed kernel (``vmlinux``) inside a bzImage, for PVH direct boot.

Why: a bzImage starts in real mode, runs its setup code and then *decompresses itself* -- about
0.2 s under TCG, a whole phase of the timeline. QEMU can instead load the ELF ``vmlinux`` and jump
straight to its PVH entry point (the way Firecracker-class VMMs boot), so that phase disappears.
Debian's cloud kernels carry the PVH ELF note; the payload is LZ4 (legacy frame), gzip, xz, bzip2
or zstd. The extracted ELF is cached next to its bzImage with its own sha256, verified on use.

LZ4 has no decoder in the standard library, so a small pure-Python one is here (0.6 s for the
53 MB Debian cloud kernel, once: the result is cached); the other formats use the standard library.
"""

from __future__ import annotations

import bz2
import json
import lzma
import os
import shutil
import subprocess
import zlib
from pathlib import Path

from runtime.errors import VmvcError
from runtime.vm.kernel import Kernel, cache_dir, sha256_of

# Magic numbers of the payload formats the kernel build can use (scripts/extract-vmlinux).
MAGICS = {
    "lz4": b"\x02\x21\x4c\x18",
    "gzip": b"\x1f\x8b\x08",
    "xz": b"\xfd7zXZ\x00",
    "bzip2": b"BZh",
    "zstd": b"\x28\xb5\x2f\xfd",
}
ELF = b"\x7fELF"
PVH_NOTE_TYPE = 18  # XEN_ELFNOTE_PHYS32_ENTRY: the PVH entry point


def lz4_block(src: bytes | memoryview, out: bytearray) -> None:
    """Decode one raw LZ4 block, appending to ``out`` (matches may reach back into earlier blocks)."""
    i, n = 0, len(src)
    while i < n:
        token = src[i]
        i += 1
        literals = token >> 4
        if literals == 15:
            while True:
                b = src[i]
                i += 1
                literals += b
                if b != 255:
                    break
        out += src[i:i + literals]
        i += literals
        if i >= n:
            break  # the last sequence has literals only
        offset = src[i] | (src[i + 1] << 8)
        i += 2
        length = token & 15
        if length == 15:
            while True:
                b = src[i]
                i += 1
                length += b
                if b != 255:
                    break
        length += 4
        start = len(out) - offset
        if offset >= length:
            out += out[start:start + length]
        else:  # the match overlaps what it produces: a repeating pattern
            pattern = out[start:]
            out += (pattern * (length // offset + 1))[:length]


def lz4_legacy(data: bytes) -> bytes:
    """The legacy LZ4 frame the kernel uses: magic, then (u32 size, block) pairs."""
    if data[:4] != MAGICS["lz4"]:
        raise ValueError("not an LZ4 legacy frame")
    out = bytearray()
    view = memoryview(data)
    pos = 4
    while pos + 4 <= len(data):
        size = int.from_bytes(data[pos:pos + 4], "little")
        if size == int.from_bytes(MAGICS["lz4"], "little") or size == 0 or pos + 4 + size > len(data):
            break  # a new frame, or the kernel's trailing uncompressed-size word
        lz4_block(view[pos + 4:pos + 4 + size], out)
        pos += 4 + size
    return bytes(out)


def _zstd(payload: bytes) -> bytes:
    tool = shutil.which("zstd")
    if not tool:
        raise VmvcError("the kernel payload is zstd: install zstd to extract vmlinux")
    return subprocess.run([tool, "-dc"], input=payload, capture_output=True).stdout


DECODERS = {
    "lz4": lz4_legacy,
    "gzip": lambda p: zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(p),
    "xz": lambda p: lzma.LZMADecompressor().decompress(p),
    "bzip2": lambda p: bz2.BZ2Decompressor().decompress(p),
    "zstd": _zstd,
}


def extract(bzimage: bytes) -> tuple[bytes, str]:
    """The ELF inside a bzImage and the format it was compressed with."""
    for name, magic in MAGICS.items():
        at = bzimage.find(magic)
        while at >= 0:
            try:
                out = DECODERS[name](bzimage[at:])
            except (ValueError, OSError, EOFError, zlib.error, lzma.LZMAError, IndexError):
                out = b""
            if out[:4] == ELF:
                return out, name
            at = bzimage.find(magic, at + 1)
    raise VmvcError("no compressed ELF found in the kernel image (is it a bzImage?)")


def has_pvh_note(elf: bytes) -> bool:
    """Does the ELF carry XEN_ELFNOTE_PHYS32_ENTRY (QEMU boots it directly, no setup code)?"""
    import struct

    if elf[:4] != ELF or elf[4] != 2:
        return False
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for i in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", elf, phoff + i * phentsize)
        if p_type != 4:  # PT_NOTE
            continue
        pos, end = p_offset, p_offset + p_filesz
        while pos + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", elf, pos)
            name = elf[pos + 12:pos + 12 + namesz].rstrip(b"\0")
            if name == b"Xen" and ntype == PVH_NOTE_TYPE:
                return True
            pos += 12 + (namesz + 3) // 4 * 4 + (descsz + 3) // 4 * 4
    return False


def for_kernel(kernel: Kernel, cache: str | Path | None = None) -> Kernel:
    """The vmlinux of ``kernel`` (extracted on first use into the kernel cache, keyed by the bzImage's
    sha256, so a user's own ``--kernel`` file never gets neighbours), verified by its own hash."""
    target = cache_dir(cache) / f"vmlinux-{kernel.sha256[:16]}"
    meta = Path(f"{target}.json")
    if target.exists() and meta.exists():
        info = json.loads(meta.read_text())
        if sha256_of(target) != info["sha256"]:
            raise VmvcError(f"{target} fails its hash check (delete it to extract it again)")
        return Kernel(str(target), info["sha256"], kernel.version, "cache", kernel.package)
    with open(kernel.path, "rb") as f:
        elf, fmt = extract(f.read())
    if not has_pvh_note(elf):
        raise VmvcError(f"kernel {kernel.version} has no PVH entry note: boot its bzImage instead")
    tmp = Path(f"{target}.vmvc-tmp")
    tmp.write_bytes(elf)
    os.replace(tmp, target)
    digest = sha256_of(target)
    meta.write_text(json.dumps({"sha256": digest, "bzimage_sha256": kernel.sha256, "format": fmt,
                                "version": kernel.version}, indent=2))
    return Kernel(str(target), digest, kernel.version, "cache", kernel.package)
