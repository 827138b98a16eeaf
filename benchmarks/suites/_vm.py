"""VM boots for the suites (not a suite itself): kernel, accelerator and initramfs prepared once, then
QEMU runs that return their timeline and what the workload printed.

The host-side preparation stays out of every timing, as in :mod:`benchmarks.vm_boot`. Under TCG a boot
costs seconds, so a Booter given the run's :class:`~benchmarks.suite.RunScope` logs every boot there and
a later suite that needs the very same boot (same kernel, accelerator, machine, initramfs) reads it back
with :meth:`Booter.earlier` instead of booting again.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass

# uname -r and the CPU model: the guest's own kernel and its virtual CPU (evidence for claim C4)
WORKLOAD = "uname -r; grep -m1 'model name' /proc/cpuinfo; /bin/true"
KERNEL_ENV = "VMVC_BENCH_KERNEL"  # a guest kernel to boot instead of the cached one (tests use their cache)


@dataclass
class Boot:
    timeline: object  # runtime.vm.timeline.Timeline
    output: list[str]  # the workload's console lines

    def at(self, event: str) -> float | None:
        """Seconds from QEMU's spawn to ``event`` (e.g. "mark:workload-start"), None if not seen."""
        e = self.timeline.event(event)
        return e.t if e else None


class Booter:
    """``with Booter(services=(0, 8)) as b: b.boot("microvm", 0)``; initramfs files removed on exit."""

    def __init__(self, services: tuple[int, ...] = (0,), workload: str = WORKLOAD, scope=None) -> None:
        from runtime.vm import accel, kernel

        path = os.environ.get(KERNEL_ENV) or None
        if path is None:
            kernel.ensure_available(lambda: print("no guest kernel cached: fetching the Debian cloud kernel",
                                                  file=sys.stderr))
        self.kernel = kernel.resolve(path)
        self.decision = accel.decide("auto")
        self.accel = self.decision.accel
        self.reason = self.decision.reason
        self._stack = contextlib.ExitStack()
        self.workload = workload
        self._log: dict = scope.values.setdefault("vm_boots", {}) if scope is not None else {}
        self.initrds: dict[int, str] = {}
        from runtime.vm.boot import initrd_file

        try:
            for n in services:
                self.initrds[n], _ = self._stack.enter_context(initrd_file(workload, n))
        except BaseException:
            self._stack.close()
            raise

    def __enter__(self) -> Booter:
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def boot(self, machine: str, services: int = 0) -> Boot:
        from runtime.vm import qemu, timeline

        result = qemu.run(qemu.Spec(self.kernel.path, self.initrds[services], machine, self.accel))
        boot = Boot(result.timeline, timeline.workload_output(result.lines))
        self._log.setdefault(self._key(machine, services), []).append(boot)
        return boot

    def earlier(self, machine: str, services: int = 0) -> list[Boot]:
        """The boots of this very kind already made in this run (by any suite), oldest first."""
        return list(self._log.get(self._key(machine, services), []))

    def _key(self, machine: str, services: int) -> tuple:
        return (self.kernel.path, self.accel, machine, services, self.workload)


def services_count() -> int:
    from runtime.vm.initramfs import SERVICES

    return len(SERVICES)
