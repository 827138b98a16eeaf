"""A VM boot and N container starts, raced from the same moment: the lecture demo's engine.

Everything that happens becomes an event ``(seconds since the start, lane, kind, text)``: the VM's
console lines as QEMU prints them and its ready moment, each container's start and exit. The terminal
view (``vmvc demo``) and the recorded HTML timeline are two renderings of the same event list.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class Event:
    t: float
    lane: str  # "vm" or "c1".."cN"
    kind: str  # console | start | ready | exit | error
    text: str = ""


@dataclass
class Race:
    n: int = 8
    machine: str = "microvm"
    events: list[Event] = field(default_factory=list)
    t0: float = 0.0
    vm_ready: float | None = None
    containers_done: float | None = None
    error: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, lane: str, kind: str, text: str = "") -> None:
        with self.lock:
            self.events.append(Event(time.perf_counter() - self.t0, lane, kind, text))

    def prepare(self, announce=None) -> None:
        """What neither side should be timed for: a guest kernel in the cache, the engine's spawner up
        and the image in the store (as a lecture machine would have them)."""
        from runtime.containers import Engine
        from runtime.images import open_store
        from runtime.vm import kernel

        kernel.ensure_available(announce)
        open_store().resolve("busybox")
        Engine().spawner.request({"op": "ping"})

    def run(self) -> Race:
        """Start both sides now; returns when the VM has booted and every container has exited."""
        self.t0 = time.perf_counter()
        vm = threading.Thread(target=self._vm, name="race-vm", daemon=True)
        vm.start()
        self._containers()
        vm.join()
        return self

    def _vm(self) -> None:
        from runtime.vm.boot import boot

        self.add("vm", "start", f"QEMU {self.machine}")
        try:
            report = boot(machine=self.machine, on_line=lambda ln: self.add("vm", "console", ln.text))
            self.vm_ready = time.perf_counter() - self.t0
            self.add("vm", "ready", f"workload ran after {report.timeline.wall:.2f} s "
                                    f"({report.decision.accel})")
        except Exception as e:  # shown in the view and the summary
            self.error = f"VM: {e}"
            self.add("vm", "error", str(e))

    def _containers(self) -> None:
        from runtime.containers import Engine, Spec

        eng = Engine()
        threads = []

        def one(i: int) -> None:
            lane = f"c{i}"
            self.add(lane, "start", "busybox")
            try:
                r = eng.run(Spec("busybox", ["sh", "-c", f"echo container {i} on $(uname -r)"],
                                 auto_remove=True))
                self.add(lane, "exit", r.stdout.decode(errors="replace").strip())
            except Exception as e:
                self.error = self.error or f"container: {e}"
                self.add(lane, "error", str(e))

        for i in range(1, self.n + 1):
            t = threading.Thread(target=one, args=(i,), daemon=True)
            t.start()
            threads.append(t)
        for t in threads:
            t.join()
        self.containers_done = time.perf_counter() - self.t0

    def summary(self) -> list[tuple[str, str]]:
        starts = [e.t for e in self.events if e.lane != "vm" and e.kind == "exit"]
        rows = [("containers started and finished", f"{self.n}"),
                ("first container done", f"{min(starts):.3f} s" if starts else "-"),
                ("all containers done", f"{self.containers_done:.3f} s" if self.containers_done else "-"),
                ("VM ready (its workload ran)", f"{self.vm_ready:.2f} s" if self.vm_ready else "-")]
        if self.vm_ready and self.containers_done:
            rows.append(("VM / all containers", f"{self.vm_ready / self.containers_done:.0f}×"))
        return rows
