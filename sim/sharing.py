"""Processor sharing: a capacity split equally among everything currently using it.

Why: a host's cores (or its disk) are not handed out one job at a time; the kernel time-slices
runnable work, so N jobs on c cores each progress at ``min(1, c/N)`` of a core. Simulating that
tick by tick costs an event per tick per job. Instead we keep a *virtual clock* ``V``: the service
each active job has received since the clock started, which grows at the per-job rate
``r(n) = min(cap, capacity / n)``. A job that arrives at virtual time ``V0`` with work ``w`` is done
when ``V`` reaches ``V0 + w``; a heap of those targets gives the next departure in O(log n), and
between events nothing needs simulating.

    >>> import simpy
    >>> env = simpy.Environment()
    >>> cpu = ProcessorSharing(env, capacity=2, cap=1.0)
    >>> done = [cpu.serve(1.0) for _ in range(4)]   # 4 jobs of 1 core-second on 2 cores
    >>> env.run()
    >>> env.now                                      # all finish together at N*t/c
    2.0
"""

from __future__ import annotations

import heapq
import itertools

#: Work left below this (in work units) counts as done: floating-point slack, not a model knob.
EPSILON = 1e-9


class ProcessorSharing:
    """``serve(work)`` returns an event that fires when ``work`` units have been served.

    ``capacity`` units/s are split equally among active jobs; one job never gets more than ``cap``
    units/s (a single-threaded stage cannot use two cores).
    """

    def __init__(self, env, capacity: float, cap: float | None = None) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self.env = env
        self.capacity = float(capacity)
        self.cap = float(cap) if cap else float("inf")
        self._virtual = 0.0
        self._stamp = env.now
        self._heap: list[tuple[float, int, object]] = []
        self._seq = itertools.count()
        self._timer = None
        self._wake_at = float("inf")  # real time of the earliest pending timer (stale ones are ignored)
        self.busy_time = 0.0  # integral of (share of capacity in use) dt, for utilisation

    @property
    def active(self) -> int:
        return len(self._heap)

    def rate(self, n: int) -> float:
        """Service rate each of ``n`` active jobs receives."""
        return min(self.cap, self.capacity / n) if n else 0.0

    def serve(self, work: float):
        event = self.env.event()
        if work <= 0:
            event.succeed()
            return event
        self._advance()
        heapq.heappush(self._heap, (self._virtual + work, next(self._seq), event))
        self._schedule()
        return event

    def _advance(self) -> None:
        now = self.env.now
        n = len(self._heap)
        if n and now > self._stamp:
            r = self.rate(n)
            self._virtual += r * (now - self._stamp)
            self.busy_time += (now - self._stamp) * min(1.0, r * n / self.capacity)
        self._stamp = now

    def _schedule(self) -> None:
        if not self._heap:
            return
        target = self._heap[0][0]
        when = self.env.now + max(0.0, target - self._virtual) / self.rate(len(self._heap))
        # An arrival slows everyone down, so the pending timer fires early, finds nothing done and
        # re-arms: only schedule a new timer when the next departure moved *earlier*.
        if when < self._wake_at:
            self._wake_at = when
            self._timer = self.env.timeout(when - self.env.now)
            self._timer.callbacks.append(self._on_timer)

    def _on_timer(self, event) -> None:
        if event is not self._timer:
            return  # stale: a later arrival or departure re-armed us
        now = self.env.now
        self._wake_at = float("inf")
        self._advance()
        heap = self._heap
        limit = self._virtual + EPSILON * max(1.0, self._virtual)
        while heap:
            left = heap[0][0] - limit
            # done, or so close that the next timer would land on this same instant
            if left > 0 and now + left / self.rate(len(heap)) > now:
                break
            heapq.heappop(heap)[2].succeed()
        self._schedule()
