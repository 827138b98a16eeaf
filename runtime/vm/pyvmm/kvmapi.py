"""The slice of the KVM API a tiny hypervisor needs: ioctl numbers and the structures they pass.

Values come from ``<linux/kvm.h>`` (x86-64). Only the fields pyvmm reads or writes are spelled out;
layouts match the kernel's byte for byte (``kvm_sregs`` is 312 bytes, ``kvm_regs`` 144).
"""

from __future__ import annotations

import ctypes

KVMIO = 0xAE
_IOC_WRITE, _IOC_READ = 1, 2


def _ioc(direction: int, nr: int, size: int = 0) -> int:
    request = (direction << 30) | (size << 16) | (KVMIO << 8) | nr
    return request - (1 << 32) if request >= 1 << 31 else request  # fcntl.ioctl takes a C int


class Regs(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64) for name in (
        "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags")]


class Segment(ctypes.Structure):
    _fields_ = [("base", ctypes.c_uint64), ("limit", ctypes.c_uint32), ("selector", ctypes.c_uint16),
                ("type", ctypes.c_uint8), ("present", ctypes.c_uint8), ("dpl", ctypes.c_uint8),
                ("db", ctypes.c_uint8), ("s", ctypes.c_uint8), ("l", ctypes.c_uint8), ("g", ctypes.c_uint8),
                ("avl", ctypes.c_uint8), ("unusable", ctypes.c_uint8), ("padding", ctypes.c_uint8)]


class DTable(ctypes.Structure):
    _fields_ = [("base", ctypes.c_uint64), ("limit", ctypes.c_uint16), ("padding", ctypes.c_uint16 * 3)]


class Sregs(ctypes.Structure):
    _fields_ = [*[(s, Segment) for s in ("cs", "ds", "es", "fs", "gs", "ss", "tr", "ldt")],
                ("gdt", DTable), ("idt", DTable),
                *[(r, ctypes.c_uint64) for r in ("cr0", "cr2", "cr3", "cr4", "cr8", "efer", "apic_base")],
                ("interrupt_bitmap", ctypes.c_uint64 * 4)]


class MemoryRegion(ctypes.Structure):
    _fields_ = [("slot", ctypes.c_uint32), ("flags", ctypes.c_uint32), ("guest_phys_addr", ctypes.c_uint64),
                ("memory_size", ctypes.c_uint64), ("userspace_addr", ctypes.c_uint64)]


class IoExit(ctypes.Structure):
    _fields_ = [("direction", ctypes.c_uint8), ("size", ctypes.c_uint8), ("port", ctypes.c_uint16),
                ("count", ctypes.c_uint32), ("data_offset", ctypes.c_uint64)]


class MmioExit(ctypes.Structure):
    _fields_ = [("phys_addr", ctypes.c_uint64), ("data", ctypes.c_uint8 * 8), ("len", ctypes.c_uint32),
                ("is_write", ctypes.c_uint8)]


class InternalExit(ctypes.Structure):
    _fields_ = [("suberror", ctypes.c_uint32), ("ndata", ctypes.c_uint32), ("data", ctypes.c_uint64 * 16)]


class FailEntryExit(ctypes.Structure):
    _fields_ = [("hardware_entry_failure_reason", ctypes.c_uint64), ("cpu", ctypes.c_uint32)]


class ExitUnion(ctypes.Union):
    _fields_ = [("io", IoExit), ("mmio", MmioExit), ("internal", InternalExit), ("fail_entry", FailEntryExit),
                ("padding", ctypes.c_char * 256)]


class Run(ctypes.Structure):
    """The shared page KVM fills in on every exit (``struct kvm_run``, the part before the union)."""

    _fields_ = [("request_interrupt_window", ctypes.c_uint8), ("immediate_exit", ctypes.c_uint8),
                ("padding1", ctypes.c_uint8 * 6), ("exit_reason", ctypes.c_uint32),
                ("ready_for_interrupt_injection", ctypes.c_uint8), ("if_flag", ctypes.c_uint8),
                ("flags", ctypes.c_uint16), ("cr8", ctypes.c_uint64), ("apic_base", ctypes.c_uint64),
                ("exit", ExitUnion)]


assert ctypes.sizeof(Regs) == 144 and ctypes.sizeof(Sregs) == 312 and ctypes.sizeof(MemoryRegion) == 32

GET_API_VERSION = _ioc(0, 0x00)
CREATE_VM = _ioc(0, 0x01)
CHECK_EXTENSION = _ioc(0, 0x03)
GET_VCPU_MMAP_SIZE = _ioc(0, 0x04)
CREATE_VCPU = _ioc(0, 0x41)
SET_USER_MEMORY_REGION = _ioc(_IOC_WRITE, 0x46, ctypes.sizeof(MemoryRegion))
SET_TSS_ADDR = _ioc(0, 0x47)
RUN = _ioc(0, 0x80)
GET_REGS = _ioc(_IOC_READ, 0x81, ctypes.sizeof(Regs))
SET_REGS = _ioc(_IOC_WRITE, 0x82, ctypes.sizeof(Regs))
GET_SREGS = _ioc(_IOC_READ, 0x83, ctypes.sizeof(Sregs))
SET_SREGS = _ioc(_IOC_WRITE, 0x84, ctypes.sizeof(Sregs))

EXIT_REASONS = {0: "unknown", 1: "exception", 2: "io", 3: "hypercall", 4: "debug", 5: "hlt", 6: "mmio",
                7: "irq_window_open", 8: "shutdown", 9: "fail_entry", 10: "intr", 11: "set_tpr",
                12: "tpr_access", 17: "internal_error", 24: "system_event"}
EXIT_IO, EXIT_HLT, EXIT_MMIO, EXIT_SHUTDOWN, EXIT_FAIL_ENTRY, EXIT_INTERNAL_ERROR = 2, 5, 6, 8, 9, 17
IO_IN, IO_OUT = 0, 1

# Control-register and EFER bits for protected and long mode.
CR0_PE, CR0_PG = 1 << 0, 1 << 31
CR4_PAE = 1 << 5
EFER_LME, EFER_LMA = 1 << 8, 1 << 10
