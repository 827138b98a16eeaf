"""Tiny static x86-64 programs that make one system call and exit with its errno (0 on success).

The busybox image has no ``keyctl`` or ``add_key`` applet and no compiler, so the escape attempts
(:mod:`runtime.security.attempts`) bring their own probe, written byte by byte like
:mod:`runtime.images.hello`: ``syscall(nr, a0..a5)`` with constant arguments, then
``exit(-ret if ret < 0 else 0)``. ``int80=True`` makes the call through the 32-bit ``int 0x80`` gate
instead (an i386 call from a 64-bit process). :func:`image` imports busybox plus a set of probes as an
image.
"""

from __future__ import annotations

import io
import shutil
import struct
import tarfile

from runtime.images.hello import BASE, EHDR, PHDR

REGS = (b"\x48\xbf", b"\x48\xbe", b"\x48\xba", b"\x49\xba", b"\x49\xb8", b"\x49\xb9")  # rdi rsi rdx r10 r8 r9


def code(nr: int, args=(), int80: bool = False) -> bytes:
    args = list(args) + [0] * (6 - len(args))
    out = b"\x48\xb8" + struct.pack("<Q", nr)  # mov rax, nr
    out += b"".join(reg + struct.pack("<Q", a & (1 << 64) - 1) for reg, a in zip(REGS, args, strict=True))
    out += b"\xcd\x80" if int80 else b"\x0f\x05"  # int 0x80 | syscall
    out += (b"\x48\x89\xc7"  # mov rdi, rax
            b"\x48\xf7\xdf"  # neg rdi
            b"\x48\x85\xc0"  # test rax, rax
            b"\x79\x02"      # jns ok
            b"\xeb\x02"      # jmp exit
            b"\x31\xff"      # ok: xor edi, edi
            b"\xb8\x3c\x00\x00\x00"  # exit: mov eax, 60
            b"\x0f\x05")     # syscall
    return out


def program(nr: int, args=(), int80: bool = False) -> bytes:
    body = code(nr, args, int80)
    size = EHDR + PHDR + len(body)
    entry = BASE + EHDR + PHDR
    ehdr = (b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
            + struct.pack("<HHIQQQIHHHHHH", 2, 0x3E, 1, entry, EHDR, 0, 0, EHDR, PHDR, 1, 0, 0, 0))
    phdr = struct.pack("<IIQQQQQQ", 1, 5, 0, BASE, BASE, size, size, 0x1000)
    return ehdr + phdr + body


APPLETS = ("sh", "cat", "grep", "echo", "mkdir", "ls", "mount", "unshare", "hostname", "date", "mknod",
           "head", "find", "wc", "true")


def image(store, ref: str, probes: dict[str, tuple]) -> str:
    """Import ``ref``: static busybox with :data:`APPLETS`, and ``/probe/<name>`` for each
    ``name -> (nr, args, int80)``. Returns ``ref``."""
    busybox = shutil.which("busybox")
    if not busybox:
        raise FileNotFoundError("busybox (static) is needed for the probe image")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(busybox, "bin/busybox")
        for name in APPLETS:
            info = tarfile.TarInfo(f"bin/{name}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(info)
        for name, (nr, args, int80) in probes.items():
            code = program(nr, args, int80)
            info = tarfile.TarInfo(f"probe/{name}")
            info.size, info.mode = len(code), 0o755
            tar.addfile(info, io.BytesIO(code))
    buf.seek(0)
    store.import_tar(buf, ref)
    return ref
