"""A tiny x86 assembler: just the instructions pyvmm's guests use, so no nasm is needed.

Why write one: a guest program should be readable next to the hypervisor that runs it, and its
bytes should come from the project, not from a binary blob. Each method emits one instruction in
the current mode (16-, 32- or 64-bit); labels are resolved when :meth:`Asm.assemble` is called.

>>> a = Asm(bits=16, origin=0x1000)
>>> a.mov_imm("dx", 0x3F8).mov_imm("al", ord("A")).out_dx_al().hlt().assemble().hex()
'baf803b041eef4'
"""

from __future__ import annotations

import struct

REG8 = {"al": 0, "cl": 1, "dl": 2, "bl": 3}
REG = {"ax": 0, "cx": 1, "dx": 2, "bx": 3, "sp": 4, "bp": 5, "si": 6, "di": 7}


class Asm:
    def __init__(self, bits: int = 16, origin: int = 0) -> None:
        if bits not in (16, 32, 64):
            raise ValueError("bits must be 16, 32 or 64")
        self.bits = bits
        self.origin = origin
        self.code = bytearray()
        self.labels: dict[str, int] = {}
        self.fixups: list[tuple[int, str, str]] = []  # (offset, label, kind: rel8 | abs16 | abs32)

    # --- plumbing --------------------------------------------------------------------------------
    def _emit(self, *parts: bytes | int) -> Asm:
        for p in parts:
            self.code += bytes([p]) if isinstance(p, int) else p
        return self

    def label(self, name: str) -> Asm:
        if name in self.labels:
            raise ValueError(f"label {name} defined twice")
        self.labels[name] = len(self.code)
        return self

    def here(self) -> int:
        return self.origin + len(self.code)

    def _word(self, reg: str) -> tuple[bytes, int, str]:
        """Prefix, register number and immediate format for a 16/32/64-bit register name."""
        name = reg[1:] if reg[0] in "er" and len(reg) == 3 else reg
        if name not in REG:
            raise ValueError(f"unknown register {reg}")
        width = {"e": 32, "r": 64}.get(reg[0], 16) if len(reg) == 3 else 16
        prefix = b""
        if width == 16 and self.bits != 16 or width == 32 and self.bits == 16:
            prefix = b"\x66"
        if width == 64:
            if self.bits != 64:
                raise ValueError(f"{reg} needs 64-bit mode")
            prefix = b"\x48"
        return prefix, REG[name], {16: "<H", 32: "<I", 64: "<Q"}[width]

    # --- instructions ----------------------------------------------------------------------------
    def mov_imm(self, reg: str, value: int | str) -> Asm:
        """``mov reg, imm`` (a string value is a label's absolute address)."""
        if reg in REG8:
            return self._emit(0xB0 + REG8[reg], value & 0xFF)
        prefix, num, fmt = self._word(reg)
        self._emit(prefix, 0xB8 + num)
        if isinstance(value, str):
            self.fixups.append((len(self.code), value, "abs16" if fmt == "<H" else "abs32"))
            value = 0
        return self._emit(struct.pack(fmt, value))

    def inc(self, reg: str) -> Asm:
        prefix, num, _ = self._word(reg)
        if self.bits == 64:
            return self._emit(prefix, 0xFF, 0xC0 + num)  # 0x40+r is a REX prefix in long mode
        return self._emit(prefix, 0x40 + num)

    def out_dx_al(self) -> Asm:
        return self._emit(0xEE)

    def in_al_dx(self) -> Asm:
        return self._emit(0xEC)

    def out_imm_al(self, port: int) -> Asm:
        return self._emit(0xE6, port & 0xFF)

    def in_al_imm(self, port: int) -> Asm:
        return self._emit(0xE4, port & 0xFF)

    def lodsb(self) -> Asm:
        return self._emit(0xAC)

    def test_al_al(self) -> Asm:
        return self._emit(0x84, 0xC0)

    def add_al_imm(self, value: int) -> Asm:
        return self._emit(0x04, value & 0xFF)

    def mov_moffs_al(self, address: int) -> Asm:
        """``mov [address], al`` -- a store the hypervisor sees as MMIO when nothing backs it."""
        return self._emit(0xA2, struct.pack({16: "<H", 32: "<I", 64: "<Q"}[self.bits], address))

    def mov_al_moffs(self, address: int) -> Asm:
        return self._emit(0xA0, struct.pack({16: "<H", 32: "<I", 64: "<Q"}[self.bits], address))

    def _rel8(self, opcode: int, target: str) -> Asm:
        self._emit(opcode, 0)
        self.fixups.append((len(self.code) - 1, target, "rel8"))
        return self

    def jmp(self, target: str) -> Asm:
        return self._rel8(0xEB, target)

    def jz(self, target: str) -> Asm:
        return self._rel8(0x74, target)

    def jnz(self, target: str) -> Asm:
        return self._rel8(0x75, target)

    def loop(self, target: str) -> Asm:
        """``loop``: decrement (e/r)cx and jump while it is not zero."""
        return self._rel8(0xE2, target)

    def hlt(self) -> Asm:
        return self._emit(0xF4)

    def db(self, data: bytes | str) -> Asm:
        return self._emit(data.encode() if isinstance(data, str) else data)

    # --- output ----------------------------------------------------------------------------------
    def assemble(self) -> bytes:
        out = bytearray(self.code)
        for offset, name, kind in self.fixups:
            if name not in self.labels:
                raise ValueError(f"undefined label {name}")
            target = self.labels[name]
            if kind == "rel8":
                rel = target - (offset + 1)
                if not -128 <= rel <= 127:
                    raise ValueError(f"jump to {name} out of rel8 range")
                out[offset] = rel & 0xFF
            elif kind == "abs16":
                out[offset:offset + 2] = struct.pack("<H", self.origin + target)
            else:
                out[offset:offset + 4] = struct.pack("<I", self.origin + target)
        return bytes(out)
