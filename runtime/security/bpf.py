"""A small classic-BPF assembler: the instructions a seccomp filter needs, with labels.

Why our own. The kernel's seccomp filters are classic BPF programs (``struct sock_filter``: a 16-bit
opcode, two 8-bit jump offsets, a 32-bit constant). libseccomp builds them in C; this project builds
them in Python so that the whole path from a Docker profile to the bytes the kernel loads can be read
and unit-tested here, with nothing to install.

The one subtlety is reach: a conditional jump's offsets are 8 bits (at most 255 instructions
forward), while ``ja`` reaches 2^32. :meth:`Program.assemble` lays the program out, and every
conditional jump whose target is too far becomes a short jump to a ``ja`` placed right after it;
it repeats until the layout is stable (each round only lengthens the program, so it ends).
"""

from __future__ import annotations

import struct

# opcodes (linux/filter.h, linux/bpf_common.h)
LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS: A = data[k] (32 bits)
ALU_AND_K = 0x54  # BPF_ALU | BPF_AND | BPF_K: A &= k
JA = 0x05  # BPF_JMP | BPF_JA
JEQ = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
JGT = 0x25  # BPF_JMP | BPF_JGT | BPF_K
JGE = 0x35  # BPF_JMP | BPF_JGE | BPF_K
RET_K = 0x06  # BPF_RET | BPF_K
MAX_INSNS = 4096  # BPF_MAXINSNS

NEXT = None  # a jump target meaning "the next instruction"


class Program:
    """Instructions and labels; ``assemble()`` returns the kernel's ``sock_filter`` array as bytes."""

    def __init__(self) -> None:
        # ("op", code, k) | ("jmp", code, k, jt, jf) | ("ja", label) | ("label", name)
        self.items: list[tuple] = []
        self._labels = 0

    def label(self) -> str:
        """A fresh label name (place it with :meth:`place`)."""
        self._labels += 1
        return f"L{self._labels}"

    def place(self, name: str) -> None:
        self.items.append(("label", name))

    def load(self, offset: int) -> None:
        self.items.append(("op", LD_W_ABS, offset))

    def and_(self, k: int) -> None:
        self.items.append(("op", ALU_AND_K, k & 0xFFFFFFFF))

    def ret(self, k: int) -> None:
        self.items.append(("op", RET_K, k & 0xFFFFFFFF))

    def jump(self, code: int, k: int, jt: str | None, jf: str | None) -> None:
        """``if A <op> k goto jt else goto jf`` (``None``: fall through to the next instruction)."""
        self.items.append(("jmp", code, k & 0xFFFFFFFF, jt, jf))

    def goto(self, target: str) -> None:
        self.items.append(("ja", target))

    def assemble(self) -> bytes:
        far: set[tuple[int, str]] = set()  # (item index, "t"/"f"): jumps that need a ja trampoline
        while True:
            where, size = self._layout(far)
            grew = False
            for i, item in enumerate(self.items):
                if item[0] != "jmp":
                    continue
                for side, target in (("t", item[3]), ("f", item[4])):
                    if target is None or (i, side) in far:
                        continue
                    if where[target] - (size[i] + 1) > 255:
                        far.add((i, side))
                        grew = True
            if not grew:
                break
        code = self._emit(where, size, far)
        if len(code) // 8 > MAX_INSNS:
            raise ValueError(f"seccomp filter too long: {len(code) // 8} instructions (max {MAX_INSNS})")
        return code

    def _layout(self, far: set) -> tuple[dict[str, int], dict[int, int]]:
        """Label -> instruction index; item index -> the index of its first instruction."""
        where: dict[str, int] = {}
        size: dict[int, int] = {}
        pc = 0
        for i, item in enumerate(self.items):
            size[i] = pc
            if item[0] == "label":
                where[item[1]] = pc
            elif item[0] == "jmp":
                pc += 1 + ((i, "t") in far) + ((i, "f") in far)
            else:
                pc += 1
        return where, size

    def _emit(self, where: dict[str, int], start: dict[int, int], far: set) -> bytes:
        out = bytearray()
        for i, item in enumerate(self.items):
            pc = start[i]
            kind = item[0]
            if kind == "op":
                out += struct.pack("=HBBI", item[1], 0, 0, item[2])
            elif kind == "ja":
                out += struct.pack("=HBBI", JA, 0, 0, where[item[1]] - (pc + 1))
            elif kind == "jmp":
                _, code, k, jt, jf = item
                tramp = [s for s in ("t", "f") if (i, s) in far]  # trampolines follow, in this order
                after = pc + 1 + len(tramp)  # the instruction after this jump and its trampolines
                offsets = [
                    tramp.index(side) if side in tramp  # to its ja, right after the jump
                    else (where[target] if target is not None else after) - (pc + 1)
                    for side, target in (("t", jt), ("f", jf))
                ]
                out += struct.pack("=HBBI", code, *offsets, k)
                for n, side in enumerate(tramp):
                    target = jt if side == "t" else jf
                    out += struct.pack("=HBBI", JA, 0, 0, where[target] - (pc + 2 + n))
        return bytes(out)


def disassemble(code: bytes) -> list[tuple[int, int, int, int]]:
    """``(code, jt, jf, k)`` per instruction: for tests and the emulator."""
    return [struct.unpack_from("=HBBI", code, off) for off in range(0, len(code), 8)]


def run(code: bytes, data: bytes) -> int:
    """Execute a filter on one ``seccomp_data`` the way the kernel does (the subset we emit); returns
    the action. Used by the tests to check a compiled profile against every syscall and argument."""
    insns = disassemble(code)
    a = pc = 0
    while True:
        op, jt, jf, k = insns[pc]
        pc += 1
        if op == LD_W_ABS:
            (a,) = struct.unpack_from("=I", data, k)
        elif op == ALU_AND_K:
            a &= k
        elif op == RET_K:
            return k
        elif op == JA:
            pc += k
        elif op in (JEQ, JGT, JGE):
            hit = a == k if op == JEQ else (a > k if op == JGT else a >= k)
            pc += jt if hit else jf
        else:
            raise ValueError(f"unknown BPF opcode {op:#x}")
