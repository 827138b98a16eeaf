"""The QEMU launcher: one guest, its serial console read line by line, and no QEMU left behind.

Why a careful launcher: a VM boot measurement is only honest if the harness adds (almost) nothing
and never leaves a stray emulator eating a core. So the launcher is a single-threaded loop over the
console pipe (``select`` with a deadline), stamps each chunk on arrival, samples QEMU's memory, and
watches for the three ways a boot goes wrong:

* ``KVM internal error`` (a software KVM such as kvm_pvm cannot emulate the guest; QEMU would stay
  paused and alive for ever) -- killed at once;
* a hang: no console output for ``stall`` seconds while booting (a silent workload is allowed: the
  stall watch ends at the workload-start marker), or the overall ``timeout`` -- killed;
* a kernel panic -- reported with its line.

QEMU runs in its own session (process group) with ``PR_SET_PDEATHSIG`` = SIGKILL, so Ctrl-C, an
exception or even our own death takes the whole group down. Call :func:`run` from the thread that
stays alive for the boot (PDEATHSIG follows the spawning *thread*).
"""

from __future__ import annotations

import errno
import os
import re
import select
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field

from runtime.errors import NotFound, VmvcError
from runtime.vm import timeline as tl

QEMU = "qemu-system-x86_64"
MACHINES = ("microvm", "pc", "q35")
KVM_ERROR = "KVM internal error"
WORKLOAD_START = f"{tl.MARK} workload-start"
PANIC = "Kernel panic"


class BootError(VmvcError):
    """The guest did not boot to the end; the message says how far it got and why."""

    def __init__(self, message: str, lines: list | None = None, exit_code: int = 125) -> None:
        super().__init__(message, exit_code)
        self.lines = lines or []


class BootTimeout(BootError):
    pass


class KvmInternalError(BootError):
    pass


@dataclass
class Spec:
    """What to boot and how. ``accel`` is already decided here (``kvm`` or ``tcg``): see accel.py."""

    kernel: str
    initrd: str
    machine: str = "microvm"
    accel: str = "tcg"
    memory_mb: int = 256
    cpus: int = 1
    append: str = ""
    tsc_khz: int | None = None      # microvm under TCG needs tsc_early_khz; None: read the host's
    extra: list[str] = field(default_factory=list)


TSC_LOG = re.compile(r"tsc: (?:Refined TSC clocksource calibration|Detected):? (\d+\.\d+) MHz")


def host_tsc_khz(cpuinfo: str = "/proc/cpuinfo", kmsg: str = "/dev/kmsg") -> int:
    """The host TSC rate in kHz (TCG guests read the host TSC, so this is the guest's rate too).

    Best evidence first: the kernel's own ``tsc_freq_khz`` (some kernels), then its calibration
    message in the kernel log, then ``cpu MHz`` from /proc/cpuinfo (the current clock, which on a
    host with frequency scaling may differ from the TSC rate).
    """
    try:
        with open("/sys/devices/system/cpu/cpu0/tsc_freq_khz") as f:
            return int(f.read())
    except (OSError, ValueError):
        pass
    lines = [line for record in _kernel_log(kmsg) for line in record.splitlines()]
    found = [m.group(1) for m in map(TSC_LOG.search, lines) if m]
    if found:
        return int(float(found[-1]) * 1000)   # "Refined" comes after "Detected"
    with open(cpuinfo) as f:
        for line in f:
            if line.startswith("cpu MHz"):
                return int(float(line.partition(":")[2]) * 1000)
    raise VmvcError("cannot read the host TSC frequency (no 'cpu MHz' in /proc/cpuinfo)")


def _kernel_log(kmsg: str, limit: int = 4000) -> list[str]:
    """The early kernel log records still in the ring buffer (needs root; [] otherwise)."""
    try:
        fd = os.open(kmsg, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return []
    records = []
    try:
        for _ in range(limit):
            try:
                data = os.read(fd, 8192)
            except BlockingIOError:
                break            # read everything there is
            except OSError as e:
                if e.errno == errno.EPIPE:
                    continue     # a record was overwritten while we read; the next one follows
                break
            if not data:
                break
            records.append(data.decode(errors="replace"))
    finally:
        os.close(fd)
    return records


def cmdline(spec: Spec) -> str:
    parts = ["console=ttyS0", "earlyprintk=serial,ttyS0", "printk.time=1", "panic=-1"]
    if spec.machine == "microvm" and spec.accel == "tcg":
        parts.append(f"tsc_early_khz={spec.tsc_khz or host_tsc_khz()}")
    if spec.append:
        parts.append(spec.append)
    return " ".join(parts)


def command(spec: Spec, qemu: str = QEMU) -> list[str]:
    """The complete QEMU command line (the benchmark runs the very same one bare)."""
    if spec.machine not in MACHINES:
        raise VmvcError(f"unknown machine '{spec.machine}' (choose {', '.join(MACHINES)})", exit_code=2)
    if spec.accel not in ("kvm", "tcg"):
        raise VmvcError(f"accelerator must be decided (kvm or tcg), not '{spec.accel}'", exit_code=2)
    cmd = [qemu, "-M", spec.machine, "-accel", spec.accel, "-m", str(spec.memory_mb),
           "-smp", str(spec.cpus), "-nographic", "-no-reboot",
           "-kernel", spec.kernel, "-initrd", spec.initrd, "-append", cmdline(spec)]
    if spec.accel == "kvm":
        cmd += ["-cpu", "host"]
    return cmd + list(spec.extra)


@dataclass
class Result:
    command: list[str]
    lines: list[tl.Line]
    returncode: int
    timeline: tl.Timeline
    pid: int

    @property
    def console(self) -> str:
        return "\n".join(ln.text for ln in self.lines)


def _deathsig():
    from runtime.linux.syscalls import PR_SET_PDEATHSIG, syscalls

    prctl = syscalls().prctl  # bound before fork: the child only makes the call

    def child() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

    return child


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL QEMU's whole process group and reap it."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def _tail(lines: list[tl.Line]) -> str:
    return lines[-1].text[:160] if lines else "(no output)"


def run(spec: Spec, timeout: float = 120.0, stall: float | None = 30.0, sample_every: float = 0.1,
        on_line=None, qemu: str = QEMU, coalesce: float = 0.001, booted: str = WORKLOAD_START) -> Result:
    """Boot ``spec`` and wait for QEMU to exit; raises :class:`BootError` when it does not finish.

    The stall watch ends at the first line starting with ``booted`` (a guest that has booted may
    be silent while it works: a workload, or a full OS computing its boot report).

    Console bytes are read in batches at most every ``coalesce`` seconds (the serial port delivers
    them one by one); each batch is stamped with the arrival of its first byte, so line times have
    that resolution (1 ms) while the reader costs ~1000 wake-ups a second at most, not one per byte.
    """
    if shutil.which(qemu) is None:
        raise NotFound(f"{qemu} not found (apt-get install --no-install-recommends qemu-system-x86)")
    cmd = command(spec, qemu)
    preexec = _deathsig()
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=preexec)
    fd = proc.stdout.fileno()
    splitter = tl.LineSplitter()
    lines: list[tl.Line] = []
    memory = tl.MemorySampler(proc.pid)
    booting = True  # until the workload starts; a workload may be silent for as long as it likes
    try:
        last_output = next_sample = time.monotonic()
        while True:
            now = time.monotonic()
            if now >= next_sample:
                memory.sample()
                next_sample = now + sample_every
            if now - t0 > timeout:
                raise _hang(f"timed out after {timeout:g} s", lines + splitter.flush())
            if booting and stall is not None and now - last_output > stall:
                raise _hang(f"guest hung: no console output for {stall:g} s", lines + splitter.flush())
            wait = max(0.0, min(next_sample, t0 + timeout) - now)
            ready, _, _ = select.select([fd], [], [], wait)
            if not ready:
                continue
            arrived = time.monotonic()
            if coalesce:
                time.sleep(coalesce)  # the UART trickles byte by byte: batch them, stamp the first
            data = os.read(fd, 65536)
            if not data:
                break
            last_output = arrived
            for ln in splitter.feed(arrived - t0, data):
                _check_line(ln, lines, on_line)
                booting = booting and not ln.text.startswith(booted)
        for ln in splitter.flush():
            _check_line(ln, lines, on_line)
        remaining = max(0.1, timeout - (time.monotonic() - t0))
        try:
            proc.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            raise _hang(f"QEMU closed its console but did not exit within {timeout:g} s", lines) from None
        exit_t = time.monotonic() - t0
    finally:
        kill_group(proc)  # no-op after a clean exit; SIGKILL on timeout, error or Ctrl-C
        proc.stdout.close()
    panic = next((ln for ln in lines if PANIC in ln.text), None)
    if panic is not None:
        raise BootError(f"guest kernel panic at {panic.t:.1f} s: {panic.text[:160]}", lines)
    timeline = tl.build(lines, exit_t, exit_t, peak_rss=memory.peak_rss, peak_pss=memory.peak_pss,
                        samples=memory.samples,
                        info={"machine": spec.machine, "accel": spec.accel, "memory_mb": spec.memory_mb,
                              "cpus": spec.cpus})
    if proc.returncode != 0 and not tl.markers(lines):
        raise BootError(f"qemu exited with {proc.returncode}: {_tail(lines)}", lines)
    return Result(cmd, lines, proc.returncode, timeline, proc.pid)


def _check_line(ln: tl.Line, lines: list[tl.Line], on_line) -> None:
    lines.append(ln)
    if on_line:
        on_line(ln)
    if KVM_ERROR in ln.text:
        raise KvmInternalError(f"KVM internal error at {ln.t:.1f} s (last stage: {tl.last_phase(lines)}): "
                               f"this host's KVM cannot run the guest; QEMU killed. Use --accel tcg", lines)


def _hang(reason: str, lines: list[tl.Line]) -> BootTimeout:
    return BootTimeout(f"{reason}; last stage reached: {tl.last_phase(lines)}; last line: {_tail(lines)}; "
                       f"QEMU killed", lines)
