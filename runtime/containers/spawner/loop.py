"""The spawner's event loop: one ``selectors`` selector, one-shot timers, and idle work.

Everything the spawner does happens in a callback of this loop, so a callback must never block: a
file descriptor is watched with a callback ``fn(mask)``; a timer runs ``fn()`` once after a delay
(SimPy's ``timeout``, without the generators). Work that may wait (the next stem, a slot, deferred
cleanup) runs only when a ``select`` found nothing to do but *bulk* events -- container output, so
that a container printing without pause cannot starve the stem pool -- and not before
:attr:`Loop.quiet_until`: a start sets it so that a short container's exit is answered before the
next stem is forked.
"""

from __future__ import annotations

import heapq
import selectors
import time
from collections.abc import Callable

READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE
TICK = 1.0  # the longest sleep: the idle-exit check runs at least this often


class Loop:
    def __init__(self) -> None:
        self.sel = selectors.DefaultSelector()
        self.timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = 0
        self.running = True
        self.quiet_until = 0.0  # monotonic time before which idle work waits
        self.bulk: set[int] = set()  # fds whose events do not count as work for idle-work purposes

    # -- descriptors ------------------------------------------------------------------------------
    def watch(self, fileobj, fn: Callable[[int], object], events: int = READ, bulk: bool = False) -> None:
        self.sel.register(fileobj, events, fn)
        if bulk:
            self.bulk.add(fileobj if isinstance(fileobj, int) else fileobj.fileno())

    def modify(self, fileobj, fn: Callable[[int], object], events: int) -> None:
        """Watch ``fileobj`` for ``events`` from now on (none: not at all, until the next modify)."""
        if not events:
            self.unwatch(fileobj)
            return
        try:
            self.sel.modify(fileobj, events, fn)
        except KeyError:
            self.sel.register(fileobj, events, fn)

    def unwatch(self, fileobj) -> None:
        try:
            key = self.sel.unregister(fileobj)
        except (KeyError, ValueError):
            return
        self.bulk.discard(key.fd)

    # -- timers -----------------------------------------------------------------------------------
    def after(self, seconds: float, fn: Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self.timers, (time.monotonic() + seconds, self._seq, fn))

    def _run_timers(self) -> None:
        t = time.monotonic()
        while self.timers and self.timers[0][0] <= t:
            _, _, fn = heapq.heappop(self.timers)
            fn()

    # -- running ----------------------------------------------------------------------------------
    def run(
        self, idle_pending: Callable[[], bool], idle: Callable[[], None], tick: Callable[[], None]
    ) -> None:
        """Until :attr:`running` turns false: wait for events or the next timer, run callbacks; when
        nothing but bulk output happened run ``idle()`` (if ``idle_pending()``, not before
        :attr:`quiet_until`); ``tick()`` after every round."""
        while self.running:
            timeout = TICK
            if self.timers:
                timeout = max(0.0, min(timeout, self.timers[0][0] - time.monotonic()))
            if idle_pending():
                timeout = max(0.0, min(timeout, self.quiet_until - time.monotonic()))
            events = self.sel.select(timeout)
            busy = False
            for key, mask in events:
                busy = busy or key.fd not in self.bulk
                key.data(mask)
            self._run_timers()
            if not busy and time.monotonic() >= self.quiet_until:
                idle()
            tick()
