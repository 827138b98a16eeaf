"""A simulated host: cores, disk bandwidth, memory admission, a page/layer cache, cgroup moves.

Why each resource is here:

* **cores** — ``cpu_model="ps"`` (default) is processor sharing: runnable work shares the cores
  equally and a single stage never uses more than one core, so N equal CPU-bound stages of ``t`` on
  ``c`` cores all finish at ``max(1, N/c)·t``. ``cpu_model="fifo"`` hands out whole cores: a
  stage holds one core for its CPU work and waits in line otherwise, so they finish in waves at
  ``⌈N/c⌉·t``. Real schedulers sit between the two (time slices are short, so PS is closer). On
  a shared machine a calibrated profile may set ``effective_cores`` (between 1 and ``cores``):
  the share of the cores this work really gets, used as the PS capacity.
* **disk** — bandwidth shared equally among concurrent readers (processor sharing again).
* **memory** — admission: an instance reserves its private memory before its first stage. It
  either waits in a FIFO line for memory to be freed (``admission="wait"``) or is refused on the
  spot (``"refuse"``). The shared page cache is counted separately (it is evictable).
* **cache** — a set of keys ("this image's layers", "this kernel file"). The first reader pays full
  price; concurrent readers wait for it (one read in flight per key, like the page cache and
  containerd's pull deduplication); later readers pay the stage's ``hit`` fraction.
* **cgroup moves** — the first move into a cgroup after the host was idle waits for an RCU grace
  period (5–20 ms on this kind of host); moves during that grace period wait for the same one;
  back-to-back moves after it are cheap.
"""

from __future__ import annotations

from collections import deque

import simpy

from sim.profiles import HostSpec
from sim.sharing import ProcessorSharing


class Host:
    def __init__(self, env: simpy.Environment, spec: HostSpec, index: int = 0, warm: set | None = None):
        self.env = env
        self.spec = spec
        self.index = index
        if spec.cpu_model == "ps":
            self.cpu = ProcessorSharing(env, spec.effective_cores or spec.cores, cap=1.0)
            self.cores = None
        else:
            self.cpu = None
            self.cores = simpy.Resource(env, capacity=spec.cores)
        self.disk = ProcessorSharing(env, spec.disk_bw)
        self.memory_used = 0.0
        self.memory_peak = 0.0
        self.shared_used = 0.0
        self.overheads: set[str] = set()
        self.cache: set[str] = set(warm or ())
        self.inflight: dict[str, simpy.Event] = {}
        self._waiting: deque = deque()
        self._last_move = float("-inf")
        self._grace_end = float("-inf")
        self.placed = 0  # instances placed on this host (cluster placement looks at it)
        self.running = 0  # admitted and not yet gone

    # --- CPU and disk ---------------------------------------------------------------------
    def compute(self, work: float):
        """Generator: ``yield from host.compute(w)`` burns ``w`` core-seconds under contention."""
        if self.cpu is not None:
            yield self.cpu.serve(work)
        else:
            with self.cores.request() as req:
                yield req
                yield self.env.timeout(work)

    def read(self, nbytes: float):
        """Event: ``nbytes`` read at the host's shared disk bandwidth."""
        return self.disk.serve(nbytes)

    # --- memory admission -----------------------------------------------------------------
    @property
    def memory_free(self) -> float:
        return self.spec.memory - self.memory_used

    def need(self, private: float, overhead: float = 0.0, overhead_key: str = "") -> float:
        """Bytes an instance must reserve here: its private memory, plus a per-host daemon
        (``overhead``, e.g. dockerd + containerd) if no instance has brought it yet."""
        return private + (overhead if overhead and overhead_key not in self.overheads else 0.0)

    def fits(self, private: float, overhead: float = 0.0, overhead_key: str = "") -> bool:
        return not self._waiting and self.need(private, overhead, overhead_key) <= self.memory_free + 1e-6

    def admit(self, private: float, overhead: float = 0.0, overhead_key: str = ""):
        """Reserve memory. Returns ``True`` (admitted now), ``None`` (refused), or an event to wait for.

        Daemon overhead is paid by the first instance that needs it and stays (daemons keep running);
        :meth:`release` gives back only the private part.
        """
        if self.fits(private, overhead, overhead_key):
            self._take(private, overhead, overhead_key)
            return True
        if self.spec.admission == "refuse" or self.need(private, overhead, overhead_key) > self.spec.memory:
            return None
        event = self.env.event()
        self._waiting.append((private, overhead, overhead_key, event))
        return event

    def _take(self, private: float, overhead: float, overhead_key: str) -> None:
        self.memory_used += self.need(private, overhead, overhead_key)
        if overhead_key:
            self.overheads.add(overhead_key)
        self.memory_peak = max(self.memory_peak, self.memory_used)
        self.running += 1

    def release(self, private: float) -> None:
        """Give memory back (an instance went away) and admit waiters that now fit, in order."""
        self.memory_used -= private
        self.running -= 1
        while self._waiting:
            private, overhead, key, event = self._waiting[0]
            if self.need(private, overhead, key) > self.memory_free + 1e-6:
                break
            self._waiting.popleft()
            self._take(private, overhead, key)
            event.succeed()

    # --- page / layer cache ---------------------------------------------------------------
    def fill(self, key: str, shared_bytes: float) -> None:
        """The read of ``key`` finished: later readers hit, waiters wake."""
        if key not in self.cache:
            self.cache.add(key)
            self.shared_used += shared_bytes
        event = self.inflight.pop(key, None)
        if event is not None:
            event.succeed()

    # --- cgroup moves ---------------------------------------------------------------------
    def cgroup_move_delay(self) -> float:
        """Seconds the next cgroup move waits (an RCU grace period, shared by concurrent movers)."""
        now = self.env.now
        spec = self.spec
        if now < self._grace_end:
            wait = self._grace_end - now + spec.grace_warm
        elif now - self._last_move > spec.grace_idle_after:
            self._grace_end = now + spec.grace_first
            wait = spec.grace_first
        else:
            wait = spec.grace_warm
        self._last_move = now + wait
        return wait
