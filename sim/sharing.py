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

import itertools
from heapq import heappop, heappush

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
        self.served = 0.0  # work served so far (core-seconds for CPUs, bytes for a disk)

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
        now = self.env.now
        self._advance(now)
        heappush(self._heap, (self._virtual + work, next(self._seq), event))
        self._schedule(now)
        return event

    # The two methods below run once per arrival or departure: plain arithmetic, no helper calls.
    def _advance(self, now: float) -> None:
        n = len(self._heap)
        dt = now - self._stamp
        if n and dt > 0:
            r = self.capacity / n
            if r > self.cap:
                r = self.cap
            self._virtual += r * dt
            self.served += r * n * dt
        self._stamp = now

    def _schedule(self, now: float) -> None:
        heap = self._heap
        if not heap:
            return
        r = self.capacity / len(heap)
        if r > self.cap:
            r = self.cap
        left = heap[0][0] - self._virtual
        when = now + (left / r if left > 0 else 0.0)
        # An arrival slows everyone down, so the pending timer fires early, finds nothing done and
        # re-arms: only schedule a new timer when the next departure moved *earlier*.
        if when < self._wake_at:
            self._wake_at = when
            self._timer = timer = self.env.timeout(when - now)
            timer.callbacks.append(self._on_timer)

    def _on_timer(self, event) -> None:
        if event is not self._timer:
            return  # stale: a later arrival or departure re-armed us
        now = self.env.now
        self._wake_at = float("inf")
        self._advance(now)
        heap = self._heap
        limit = self._virtual + EPSILON * max(1.0, self._virtual)
        while heap:
            left = heap[0][0] - limit
            # done, or so close that the next timer would land on this same instant
            if left > 0 and now + left / self.rate(len(heap)) > now:
                break
            heappop(heap)[2].succeed()
        self._schedule(now)
