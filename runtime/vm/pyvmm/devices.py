"""Emulated devices: what the hypervisor does when a guest touches an I/O port or MMIO address.

Each access is one VM exit. A real serial port (16550 UART) at 0x3F8 needs only two registers for
a guest that prints: the data register (write a byte) and the line-status register (is the
transmitter empty? always yes here).
"""

from __future__ import annotations


class Device:
    """Base device: ``write``/``read`` one access of ``size`` bytes at ``address`` (port or MMIO)."""

    def __init__(self) -> None:
        self.writes: list[tuple[int, int]] = []
        self.reads: list[int] = []

    def write(self, address: int, value: int, size: int) -> None:
        self.writes.append((address, value))

    def read(self, address: int, size: int) -> int:
        self.reads.append(address)
        return 0


class Serial(Device):
    """A 16550-style UART: bytes written to the data port become the console output."""

    COM1 = 0x3F8
    LSR_THR_EMPTY = 0x60

    def __init__(self, base: int = COM1, echo=None) -> None:
        super().__init__()
        self.base = base
        self.output = bytearray()
        self.echo = echo

    @property
    def ports(self) -> range:
        return range(self.base, self.base + 8)

    def write(self, address: int, value: int, size: int) -> None:
        super().write(address, value, size)
        if address == self.base:
            self.output.append(value & 0xFF)
            if self.echo:
                self.echo(bytes([value & 0xFF]))

    def read(self, address: int, size: int) -> int:
        super().read(address, size)
        return self.LSR_THR_EMPTY if address == self.base + 5 else 0

    @property
    def text(self) -> str:
        return self.output.decode(errors="replace")


class Counter(Device):
    """A port that counts: every write is recorded; every read returns the count so far."""

    def read(self, address: int, size: int) -> int:
        super().read(address, size)
        return len(self.writes) & ((1 << (8 * size)) - 1)
