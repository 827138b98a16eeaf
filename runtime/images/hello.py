"""The ``hello-world`` program: a static x86-64 ELF written byte by byte, no compiler needed.

64-byte ELF header, one 56-byte PT_LOAD program header mapping the whole file read+execute, then
31 bytes of machine code (``write(1, msg, len)``; ``exit(0)``) and the message. Nothing else:
no libc, no dynamic loader, no sections. It runs on the host kernel exactly as it runs in a container,
which is the point the message makes.
"""

from __future__ import annotations

import struct

BASE = 0x400000
EHDR, PHDR = 64, 56

MESSAGE = """
Hello from vmvc!
This message shows that your installation appears to be working correctly.

To generate this message, vmvc took the following steps:
 1. The vmvc client asked the engine to run the "hello-world" image.
 2. The engine looked for the image in its local store. It found it there, or built it on the
    spot: vmvc's built-in images need no network (docker would pull it from Docker Hub).
 3. The engine created a new container from that image: its own namespaces (pid, mount, uts,
    ipc, net), a cgroup, and an overlay filesystem over the image's read-only layer.
 4. It ran this program, a {size}-byte static binary, directly on the host's Linux kernel:
    no guest kernel to boot, which is why a container starts in milliseconds and a VM does not.
 5. The engine streamed this output back to the client, which sent it to your terminal.

To try something more ambitious, run a shell in a container:
 $ vmvc run -it busybox sh

Then compare with a virtual machine booting its own kernel:
 $ vmvc vm boot
"""


def _code(msg_len: int) -> bytes:
    """Machine code; ``lea rsi, [rip+disp]`` finds the message right after the code."""
    head = b"\xb8\x01\x00\x00\x00" + b"\xbf\x01\x00\x00\x00"  # mov eax,1 (write); mov edi,1 (stdout)
    lea = b"\x48\x8d\x35"                                      # lea rsi,[rip+disp32]
    tail = (b"\xba" + struct.pack("<I", msg_len)               # mov edx,len
            + b"\x0f\x05"                                      # syscall
            + b"\xb8\x3c\x00\x00\x00" + b"\x31\xff"            # mov eax,60 (exit); xor edi,edi
            + b"\x0f\x05")                                     # syscall
    disp = len(tail)  # rip after lea points at tail; the message follows tail
    return head + lea + struct.pack("<i", disp) + tail


def program() -> bytes:
    """The complete ELF file."""
    size = 0
    for _ in range(3):  # the message states the size, which depends on the message: converge
        msg = MESSAGE.format(size=size).encode()
        code = _code(len(msg))
        size = EHDR + PHDR + len(code) + len(msg)
    entry = BASE + EHDR + PHDR
    ehdr = (b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)               # 64-bit, little endian, SysV
            + struct.pack("<HHIQQQIHHHHHH", 2, 0x3E, 1, entry, EHDR, 0, 0, EHDR, PHDR, 1, 0, 0, 0))
    phdr = struct.pack("<IIQQQQQQ", 1, 5, 0, BASE, BASE, size, size, 0x1000)  # PT_LOAD, R+X
    out = ehdr + phdr + code + msg
    assert len(out) == size
    return out


def message() -> str:
    """What the program prints."""
    return MESSAGE.format(size=len(program()))
