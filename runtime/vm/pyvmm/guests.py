"""The guest programs pyvmm runs, each assembled here, each with the exits it must produce.

=============  ==========================================================  =====================
guest          what it does                                                exits
=============  ==========================================================  =====================
hello          prints a message on the serial port, byte by byte           one ``io`` per byte
loop           counts to N in a register, no device touched                none until ``hlt``
ports          writes 0..N-1 to a counter port, reads the count back       N+1 ``io``
mmio           stores bytes to an unbacked address, loads one back         one ``mmio`` per access
wide           ``mov rax, imm64`` (proves the CPU is in 64-bit mode)        none until ``hlt``
=============  ==========================================================  =====================

Every guest ends with ``hlt`` (one ``hlt`` exit). ``hello`` also exists for protected and long mode.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from runtime.vm.pyvmm.asm import Asm
from runtime.vm.pyvmm.devices import Counter, Serial
from runtime.vm.pyvmm.machine import ExitStats, Machine

ENTRY = 0x1000
COUNTER_PORT = 0x10
MMIO_BASE = 0x300000  # above the 2 MiB memory slot: nothing backs it, so every access exits
BITS = {"real": 16, "protected": 32, "long": 64}
CX = {16: "cx", 32: "ecx", 64: "ecx"}
DX = {16: "dx", 32: "edx", 64: "edx"}
SI = {16: "si", 32: "esi", 64: "esi"}


@dataclass
class Outcome:
    guest: str
    mode: str
    serial: str
    stats: ExitStats
    regs: dict
    device: dict = field(default_factory=dict)
    seconds: float = 0.0    # the whole VM: open /dev/kvm, create VM and vCPU, run to hlt, tear down
    trace: list = field(default_factory=list)   # machine.Exit records when traced

    def to_dict(self) -> dict:
        return {"guest": self.guest, "mode": self.mode, "serial": self.serial, "exits": self.stats.to_dict(),
                "regs": self.regs, "device": self.device, "seconds": self.seconds,
                "trace": [asdict(e) for e in self.trace]}


def hello(mode: str = "real", message: str = "Hello from pyvmm!\n") -> bytes:
    bits = BITS[mode]
    a = Asm(bits, ENTRY)
    a.mov_imm(SI[bits], "msg").mov_imm(DX[bits], Serial.COM1)
    a.label("next").lodsb().test_al_al().jz("done").out_dx_al().jmp("next")
    a.label("done").hlt()
    a.label("msg").db(message.encode() + b"\0")
    return a.assemble()


def loop(n: int = 1000, mode: str = "real") -> bytes:
    """``ax`` (or ``eax``) ends at n: pure computation, which the CPU runs without any exit."""
    bits = BITS[mode]
    acc = {16: "ax", 32: "eax", 64: "eax"}[bits]
    a = Asm(bits, ENTRY)
    a.mov_imm(acc, 0).mov_imm(CX[bits], n)
    a.label("top").inc(acc).loop("top").hlt()
    return a.assemble()


def ports(n: int = 16, mode: str = "real") -> bytes:
    """Writes 0..n-1 to the counter port (n exits), then reads the count back into ``al`` (1 exit)."""
    bits = BITS[mode]
    a = Asm(bits, ENTRY)
    a.mov_imm("al", 0).mov_imm(CX[bits], n)
    a.label("top").out_imm_al(COUNTER_PORT).add_al_imm(1).loop("top")
    a.in_al_imm(COUNTER_PORT).hlt()
    return a.assemble()


def wide(mode: str = "long") -> bytes:
    """``mov rax, 0x1122334455667788``: only a 64-bit CPU mode leaves all eight bytes in ``rax``."""
    return Asm(BITS[mode], ENTRY).mov_imm("rax", 0x1122334455667788).hlt().assemble()


def mmio(values: bytes = b"VMM", mode: str = "real") -> bytes:
    """Stores each byte to MMIO_BASE+i, loads MMIO_BASE back into ``al``. Needs 32/64-bit addressing."""
    bits = BITS[mode]
    a = Asm(bits, ENTRY)
    for i, v in enumerate(values):
        a.mov_imm("al", v).mov_moffs_al(MMIO_BASE + i)
    a.mov_al_moffs(MMIO_BASE).hlt()
    return a.assemble()


PROGRAMS = {"hello": hello, "loop": loop, "ports": ports, "mmio": mmio, "wide": wide}


def supports(guest: str, mode: str) -> bool:
    """mmio needs addresses beyond 64 KiB (32/64-bit); wide needs 64-bit registers."""
    return not (guest == "mmio" and mode == "real" or guest == "wide" and mode != "long")


def run(guest: str = "hello", mode: str = "real", n: int | None = None, echo=None,
        timeout: float = 10.0, trace: bool = False) -> Outcome:
    """Build a machine, load ``guest``, run it to ``hlt`` and return what it did."""
    if guest not in PROGRAMS:
        raise ValueError(f"unknown guest {guest!r} (choose {', '.join(PROGRAMS)})")
    if mode not in BITS:
        raise ValueError(f"unknown mode {mode!r} (choose {', '.join(BITS)})")
    if not supports(guest, mode):
        raise ValueError(f"the {guest} guest cannot run in {mode} mode")
    args = {} if n is None or guest not in ("loop", "ports") else {"n": n}
    code = PROGRAMS[guest](mode=mode, **args)
    start = time.perf_counter()
    with Machine(trace=trace) as vm:
        serial = vm.attach(Serial(echo=echo), Serial().ports)
        counter = vm.attach(Counter(), [COUNTER_PORT])
        recorder = vm.attach(Counter(), mmio=(MMIO_BASE, 0x1000))
        vm.load(ENTRY, code)
        vm.setup(mode, ENTRY)
        stats = vm.run_until_halt(timeout=timeout)
        r = vm.regs()
        regs = {"rax": r.rax, "rcx": r.rcx, "rip": r.rip}
        device = {"port_writes": [v for _, v in counter.writes], "port_reads": len(counter.reads),
                  "mmio_writes": [(a, v) for a, v in recorder.writes], "mmio_reads": len(recorder.reads)}
    return Outcome(guest, mode, serial.text, stats, regs, device, time.perf_counter() - start,
                   list(vm.trace or []))
