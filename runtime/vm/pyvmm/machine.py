"""A virtual machine in one screen of Python: ``/dev/kvm``, a memory slot, a vCPU and the run loop.

This is what every KVM-based VMM (QEMU, Firecracker, Cloud Hypervisor) does at its core:

1. ``KVM_CREATE_VM``, then back guest-physical memory with an ``mmap`` of our own
   (``KVM_SET_USER_MEMORY_REGION``);
2. ``KVM_CREATE_VCPU``, ``mmap`` its shared ``kvm_run`` page, set registers (real, protected or
   long mode);
3. loop on ``KVM_RUN``: the guest runs until it does something the hypervisor must handle -- port
   I/O, a load or store to unbacked memory (MMIO), ``hlt`` -- and each of those is a *VM exit*: the
   CPU leaves the guest, the kernel hands the exit to us, we emulate the device, and re-enter.

Exits are what make virtual hardware expensive, so the machine counts and times them by reason:
the time inside ``KVM_RUN`` (the guest, plus the kernel's own work) and the time in Python
handling each exit (the device model).
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import signal
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

from runtime.errors import VmvcError
from runtime.vm.pyvmm import kvmapi as k
from runtime.vm.pyvmm.devices import Device

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                       ctypes.c_long]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_PROT_READ, _PROT_WRITE = 1, 2
_MAP_SHARED, _MAP_PRIVATE, _MAP_ANONYMOUS = 0x01, 0x02, 0x20
_MAP_FAILED = ctypes.c_void_p(-1).value


class GuestError(VmvcError):
    """The guest stopped in a way a correct guest does not (shutdown, internal error, timeout)."""


@dataclass
class ExitStats:
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    handle_s: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    in_guest_s: float = 0.0   # wall time inside KVM_RUN
    total_s: float = 0.0      # first KVM_RUN to the final exit

    def to_dict(self) -> dict:
        return {"counts": dict(self.counts), "handle_us": {r: s * 1e6 for r, s in self.handle_s.items()},
                "in_guest_s": self.in_guest_s, "total_s": self.total_s,
                "exits": sum(self.counts.values())}


@dataclass(frozen=True)
class Exit:
    """One VM exit as the hypervisor saw it (kept when tracing)."""

    reason: str
    detail: str          # e.g. "out port 0x3f8 = 0x48"
    guest_us: float      # inside KVM_RUN before this exit
    handle_us: float     # in Python handling it


class Machine:
    """One VM with one vCPU and one memory slot at guest-physical 0.

    ``mode`` is ``real`` (16-bit, what a PC starts in), ``protected`` (32-bit flat segments) or
    ``long`` (64-bit with identity-mapped 2 MiB pages). Use as a context manager: it closes the fds
    and unmaps memory on exit.
    """

    def __init__(self, memory: int = 0x200000, device: str = "/dev/kvm", trace: bool = False,
                 trace_limit: int = 1000) -> None:
        self.memory_size = memory
        self.trace: list[Exit] | None = [] if trace else None   # the first exits, one by one
        self.trace_limit = trace_limit
        self.devices: dict[int, Device] = {}
        self.mmio: list[tuple[int, int, Device]] = []
        self.stats = ExitStats()
        self._fds: list[int] = []
        self._maps: list[tuple[int, int]] = []   # (address, length) to munmap on close
        self.run = self.mem = self.run_page = None
        try:
            self._create(device, memory)
        except BaseException:
            self.close()  # a half-built VM must not leak its fds or mappings
            raise

    def _create(self, device: str, memory: int) -> None:
        self.kvm = self._open(device)
        api = fcntl.ioctl(self.kvm, k.GET_API_VERSION)
        if api != 12:
            raise VmvcError(f"{device}: KVM API {api}, expected 12")
        self.vm = self._fd(fcntl.ioctl(self.kvm, k.CREATE_VM, 0))
        try:
            fcntl.ioctl(self.vm, k.SET_TSS_ADDR, 0x7FFF0000)  # 3 pages VMX real mode needs; unused elsewhere
        except OSError:
            pass
        address = self._map(memory, _MAP_PRIVATE | _MAP_ANONYMOUS, -1)
        self.mem = (ctypes.c_char * memory).from_address(address)
        region = k.MemoryRegion(slot=0, flags=0, guest_phys_addr=0, memory_size=memory,
                                userspace_addr=address)
        fcntl.ioctl(self.vm, k.SET_USER_MEMORY_REGION, region)
        self.vcpu = self._fd(fcntl.ioctl(self.vm, k.CREATE_VCPU, 0))
        size = fcntl.ioctl(self.kvm, k.GET_VCPU_MMAP_SIZE)
        run = self._map(size, _MAP_SHARED, self.vcpu)
        self.run_page = (ctypes.c_char * size).from_address(run)
        self.run = k.Run.from_address(run)

    # --- resources -------------------------------------------------------------------------------
    def _open(self, device: str) -> int:
        try:
            return self._fd(os.open(device, os.O_RDWR | os.O_CLOEXEC))
        except OSError as e:
            raise VmvcError(f"{device}: {e.strerror}") from None

    def _fd(self, fd: int) -> int:
        self._fds.append(fd)
        return fd

    def _map(self, length: int, flags: int, fd: int) -> int:
        """mmap through libc, not Python's mmap: no exported buffers can keep a mapping (and the vCPU
        fd it holds) alive when the VM is closed while a traceback still references a view of it."""
        address = _libc.mmap(None, length, _PROT_READ | _PROT_WRITE, flags, fd, 0)
        if address in (None, _MAP_FAILED):
            err = ctypes.get_errno()
            raise OSError(err, f"mmap: {os.strerror(err)}")
        self._maps.append((address, length))
        return address

    def close(self) -> None:
        self.run = self.mem = self.run_page = None
        while self._maps:
            _libc.munmap(*self._maps.pop())
        while self._fds:
            os.close(self._fds.pop())

    def __enter__(self) -> Machine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- guest state -----------------------------------------------------------------------------
    def load(self, address: int, code: bytes) -> None:
        if address + len(code) > self.memory_size:
            raise ValueError("guest program does not fit in guest memory")
        self.mem[address:address + len(code)] = code

    def regs(self) -> k.Regs:
        r = k.Regs()
        fcntl.ioctl(self.vcpu, k.GET_REGS, r, True)
        return r

    def set_regs(self, r: k.Regs) -> None:
        fcntl.ioctl(self.vcpu, k.SET_REGS, r)

    def sregs(self) -> k.Sregs:
        s = k.Sregs()
        fcntl.ioctl(self.vcpu, k.GET_SREGS, s, True)
        return s

    def set_sregs(self, s: k.Sregs) -> None:
        fcntl.ioctl(self.vcpu, k.SET_SREGS, s)

    def setup(self, mode: str, entry: int, stack: int = 0x8000) -> None:
        """Registers for ``mode``: segments, control registers, and page tables for long mode."""
        s = self.sregs()
        if mode == "real":
            for seg in (s.cs, s.ds, s.es, s.fs, s.gs, s.ss):
                seg.base, seg.selector = 0, 0
        elif mode in ("protected", "long"):
            code = k.Segment(base=0, limit=0xFFFFFFFF, selector=0x8, type=11, present=1, dpl=0, db=1, s=1,
                             l=0, g=1)
            data = k.Segment(base=0, limit=0xFFFFFFFF, selector=0x10, type=3, present=1, dpl=0, db=1, s=1,
                             l=0, g=1)
            if mode == "long":
                code.db, code.l = 0, 1
                s.cr3 = self._identity_page_tables()
                s.cr4 |= k.CR4_PAE
                s.efer |= k.EFER_LME | k.EFER_LMA
                s.cr0 |= k.CR0_PE | k.CR0_PG
            else:
                s.cr0 |= k.CR0_PE
            s.cs = code
            s.ds = s.es = s.fs = s.gs = s.ss = data
        else:
            raise ValueError(f"mode must be real, protected or long, not {mode}")
        self.set_sregs(s)
        self.set_regs(k.Regs(rip=entry, rsp=stack, rflags=0x2))

    def _identity_page_tables(self, base: int = 0x100000) -> int:
        """PML4 → PDPT → PD with 2 MiB pages mapping the first 1 GiB one to one; returns CR3."""
        pml4, pdpt, pd = base, base + 0x1000, base + 0x2000
        self.mem[pml4:pd + 0x1000] = bytes(0x3000)
        present_rw = 0x3
        self.mem[pml4:pml4 + 8] = (pdpt | present_rw).to_bytes(8, "little")
        self.mem[pdpt:pdpt + 8] = (pd | present_rw).to_bytes(8, "little")
        for i in range(512):
            self.mem[pd + 8 * i:pd + 8 * i + 8] = ((i << 21) | present_rw | 0x80).to_bytes(8, "little")
        return pml4

    # --- devices ---------------------------------------------------------------------------------
    def attach(self, device: Device, ports: range | list[int] = (),
               mmio: tuple[int, int] | None = None) -> Device:
        for p in ports:
            self.devices[p] = device
        if mmio:
            self.mmio.append((mmio[0], mmio[1], device))
        return device

    # --- the run loop ----------------------------------------------------------------------------
    def run_until_halt(self, max_exits: int = 100_000, timeout: float = 10.0) -> ExitStats:
        """Run the vCPU until ``hlt``; every exit is counted, timed and handed to a device."""
        stats = self.stats
        alarm = _Alarm(timeout)
        start = time.perf_counter()
        try:
            with alarm:
                while True:
                    t0 = time.perf_counter()
                    fcntl.ioctl(self.vcpu, k.RUN, 0)
                    t1 = time.perf_counter()
                    stats.in_guest_s += t1 - t0
                    reason = self.run.exit_reason
                    name = k.EXIT_REASONS.get(reason, str(reason))
                    stats.counts[name] += 1
                    if reason == k.EXIT_HLT:
                        detail = "hlt"
                    elif reason == k.EXIT_IO:
                        detail = self._io()
                    elif reason == k.EXIT_MMIO:
                        detail = self._mmio()
                    else:
                        raise GuestError(self._describe_failure(name))
                    t2 = time.perf_counter()
                    stats.handle_s[name] += t2 - t1
                    if self.trace is not None and len(self.trace) < self.trace_limit:
                        self.trace.append(Exit(name, detail, (t1 - t0) * 1e6, (t2 - t1) * 1e6))
                    if reason == k.EXIT_HLT:
                        break
                    if sum(stats.counts.values()) >= max_exits:
                        raise GuestError(f"guest made {max_exits} exits without halting")
        except _Timeout:
            raise GuestError(f"guest did not halt within {timeout:g} s (rip {self.regs().rip:#x})") from None
        finally:
            stats.total_s = time.perf_counter() - start
        return stats

    def _io(self) -> str:
        io = self.run.exit.io
        offset = io.data_offset
        values = []
        for i in range(io.count):
            at = offset + i * io.size
            device = self.devices.get(io.port)
            if io.direction == k.IO_OUT:
                value = int.from_bytes(self.run_page[at:at + io.size], "little")
                if device:
                    device.write(io.port, value, io.size)
            else:
                value = device.read(io.port, io.size) if device else (1 << (8 * io.size)) - 1
                self.run_page[at:at + io.size] = value.to_bytes(io.size, "little")
            values.append(value)
        verb = "out" if io.direction == k.IO_OUT else "in"
        return f"{verb} port {io.port:#x} = {', '.join(f'{v:#x}' for v in values)}"

    def _mmio(self) -> str:
        m = self.run.exit.mmio
        device = next((d for lo, size, d in self.mmio if lo <= m.phys_addr < lo + size), None)
        if m.is_write:
            value = int.from_bytes(bytes(m.data)[:m.len], "little")
            if device:
                device.write(m.phys_addr, value, m.len)
        else:
            value = device.read(m.phys_addr, m.len) if device else 0
            for i, b in enumerate(value.to_bytes(8, "little")[:m.len]):
                m.data[i] = b
        return f"{'write' if m.is_write else 'read'} {m.phys_addr:#x} ({m.len} bytes) = {value:#x}"

    def _describe_failure(self, name: str) -> str:
        rip = self.regs().rip
        if name == "internal_error":
            sub = self.run.exit.internal.suberror
            return f"KVM internal error (suberror {sub}) at rip {rip:#x}: this KVM cannot emulate the guest"
        if name == "fail_entry":
            reason = self.run.exit.fail_entry.hardware_entry_failure_reason
            return f"VM entry failed (reason {reason:#x}) at rip {rip:#x}"
        return f"unexpected VM exit '{name}' at rip {rip:#x}"


class _Timeout(Exception):
    pass


class _Alarm:
    """SIGALRM interrupts a KVM_RUN that never exits (a guest spinning forever). Main thread only."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.active = threading.current_thread() is threading.main_thread() and seconds > 0

    def _fire(self, *_):
        raise _Timeout()

    def __enter__(self):
        if self.active:
            self.old = signal.signal(signal.SIGALRM, self._fire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc):
        if self.active:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.old)
