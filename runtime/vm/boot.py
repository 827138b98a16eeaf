"""``vmvc vm boot`` as a library call: kernel → accelerator → initramfs → QEMU → timeline.

>>> report = boot("echo hello; /bin/true", machine="microvm")     # doctest: +SKIP
>>> report.timeline.workload_exit, report.decision.accel           # doctest: +SKIP
(0, 'tcg')

The host-side preparation (hashing the kernel, deciding the accelerator, writing the initramfs) is
timed too, but kept out of the VM's timeline: it is what *this harness* costs, not the VM.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from runtime.errors import UsageError
from runtime.vm import accel as accel_mod
from runtime.vm import initramfs, kernel, qemu
from runtime.vm.timeline import Timeline

DEFAULT_WORKLOAD = "echo hello from the workload; /bin/true"


@dataclass
class BootReport:
    timeline: Timeline
    decision: accel_mod.Decision
    kernel: kernel.Kernel
    command: list[str]
    console: list = field(default_factory=list)
    prep: dict = field(default_factory=dict)     # host-side seconds: kernel, accel, initramfs
    initrd_bytes: int = 0
    workload: str = ""
    services: int = 0

    def to_dict(self) -> dict:
        return {"machine": self.timeline.info.get("machine"), "accel": self.decision.accel,
                "accel_reason": self.decision.reason, "kernel": self.kernel.to_dict(),
                "workload": self.workload, "services": self.services, "initrd_bytes": self.initrd_bytes,
                "prep_seconds": self.prep, "command": self.command, "timeline": self.timeline.to_dict()}

    def _repr_html_(self) -> str:
        """A notebook's display (issue 11): the phase table, then the timeline picture."""
        import base64
        import io
        from html import escape

        t = self.timeline
        head = (f"{t.info.get('machine', '?')} under {self.decision.accel}, kernel {self.kernel.version}: "
                f"{t.wall:.3f} s spawn to exit, QEMU peak RSS {t.peak_rss / 2**20:.0f} MiB")
        rows = "".join(f"<tr><td>{escape(p.name)}</td><td>{p.start:.3f}</td><td>{p.seconds:.3f}</td></tr>"
                       for p in t.phases)
        table = (f"<table><caption>{escape(head)}</caption><thead><tr><th>phase</th><th>starts at (s)</th>"
                 f"<th>takes (s)</th></tr></thead><tbody>{rows}</tbody></table>")
        try:
            import matplotlib.pyplot as plt

            from runtime.vm import plot

            fig = plot.figure({str(t.info.get("machine", "vm")): t})
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
            plt.close(fig)
            return table + f'<img src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}"/>'
        except Exception:  # a display must not fail because a plot did
            return table


TMP_PREFIX = "vmvc-initrd-"


def sweep_stale(tmp: str | None = None) -> list[str]:
    """Remove initramfs dirs left by a vmvc that was SIGKILLed (its pid is in the name and gone)."""
    tmp = tmp or tempfile.gettempdir()
    removed = []
    for path in glob.glob(os.path.join(tmp, f"{TMP_PREFIX}*-*")):
        pid = os.path.basename(path)[len(TMP_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


@contextlib.contextmanager
def initrd_file(workload: str, services: int = 0, init: str | None = None) -> Iterator[tuple[str, int]]:
    """A temporary initramfs on disk (``vmvc-initrd-<pid>-*``), removed afterwards whatever happens.

    Only SIGKILL can skip the ``finally``; the next call sweeps what such a death left behind.
    """
    sweep_stale()
    directory = tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-")
    try:
        path = os.path.join(directory, "initrd.gz")
        initramfs.write(path, workload, services, init=init)
        yield path, os.path.getsize(path)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def boot(workload: str = DEFAULT_WORKLOAD, machine: str = "microvm", accel: str = "auto", services: int = 0,
         kernel_path: str | None = None, memory_mb: int = 256, cpus: int = 1, timeout: float = 120.0,
         stall: float | None = 30.0, init: str | None = None, on_line=None, probe=None, cache=None,
         extra: list[str] | None = None, pvh: bool = False) -> BootReport:
    """Boot one VM running ``workload`` (a ``sh`` command string) and return its timeline.

    ``pvh`` boots the kernel's uncompressed ELF through its PVH entry point (see vmlinux.py):
    no real-mode setup code, no self-decompression.
    """
    if machine not in qemu.MACHINES:
        raise UsageError(f"unknown machine '{machine}' (choose {', '.join(qemu.MACHINES)})")
    prep = {}
    t = time.perf_counter()
    k = kernel.resolve(kernel_path, cache)
    if pvh:
        from runtime.vm import vmlinux

        k = vmlinux.for_kernel(k, cache)
    prep["kernel"] = time.perf_counter() - t
    t = time.perf_counter()
    decision = accel_mod.decide(accel, probe) if probe else accel_mod.decide(accel)
    prep["accel"] = time.perf_counter() - t
    t = time.perf_counter()
    with initrd_file(workload, services, init) as (initrd, size):
        prep["initramfs"] = time.perf_counter() - t
        spec = qemu.Spec(k.path, initrd, machine, decision.accel, memory_mb, cpus, extra=list(extra or []))
        result = qemu.run(spec, timeout=timeout, stall=stall, on_line=on_line)
    result.timeline.info["accel_reason"] = decision.reason
    result.timeline.info["kernel_entry"] = "pvh" if pvh else "bzimage"
    return BootReport(result.timeline, decision, k, result.command, result.lines, prep, size, workload,
                      services)
