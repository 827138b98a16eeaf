"""Every start's trace: when each step happened, from the client's request to the reaped exit.

The engine always records it, because it costs nothing worth measuring: a monotonic timestamp (an
int) per step, kept in a list, sent once with the exit and written once with the state. The steps:

=============  ===============================================================================
``client``     the client sent the request (its ``time.monotonic_ns()``, carried as ``t0``)
``spawner``    the spawner read it
``slot``       the container's directory is in place (``run`` only: create + start)
``stem``       a ready stem was taken for it
``overlay``    the overlay rootfs is mounted (in the container's process)
``mounts``     ``/proc``, ``/dev``, ``/sys`` moved in and ``-v`` volumes bound
``pivot_root`` the process is in its new root
``exec``       right before ``execve``
``running``    the spawner saw the ``execve`` (the client gets its reply now)
``exit``       the spawner saw the exit (pidfd readable)
``reap``       reaped, exit code and ``OOMKilled`` recorded, waiters answered
=============  ===============================================================================

``CLOCK_MONOTONIC`` is one clock for every process on the host (containers get no time namespace),
so the client's, the spawner's and the container's timestamps compare directly. A trace is given
as ``[[step, milliseconds since the client's request], ...]`` in step order: ``Engine.inspect(id)
["Trace"]``, ``RunResult.trace``, ``vmvc inspect`` and ``vmvc run --trace``.
"""

from __future__ import annotations

import struct
import time

STEPS = (
    "client",
    "spawner",
    "slot",
    "stem",
    "overlay",
    "mounts",
    "pivot_root",
    "exec",
    "running",
    "exit",
    "reap",
)
_INDEX = {name: i for i, name in enumerate(STEPS)}
_PAIR = struct.Struct("<Bq")
TAG = b"T"  # a control-socket message from the child: its stamps (see send)

_child: list[tuple[int, int]] = []  # the stamps of this (forked) process, sent before execve


def now() -> int:
    return time.monotonic_ns()


def stamp(step: str) -> None:
    """In a container's process, between fork and ``execve``: note that ``step`` is done."""
    _child.append((_INDEX[step], time.monotonic_ns()))


def send(ctl) -> None:
    """The child's stamps to the spawner on its control socket (one message, right before
    ``execve``); nothing if it has none or the socket is gone."""
    if not _child or ctl is None:
        return
    try:
        ctl.send(TAG + b"".join(_PAIR.pack(i, ns) for i, ns in _child))
    except OSError:
        pass


def parse(message: bytes) -> list[tuple[int, int]]:
    """A child's stamps message -> [(step index, ns)]; ``[]`` if malformed."""
    body = message[len(TAG) :]
    if len(body) % _PAIR.size:
        return []
    return [_PAIR.unpack_from(body, o) for o in range(0, len(body), _PAIR.size)]


class Trace:
    """One start's stamps in the spawner: ``t0`` is the client's request (or, without one, the
    spawner's own reading of it)."""

    __slots__ = ("t0", "stamps")

    def __init__(self, t0: int | None = None) -> None:
        spawner = time.monotonic_ns()
        self.t0 = t0 if isinstance(t0, int) and 0 < t0 <= spawner else spawner
        self.stamps: list[tuple[int, int]] = [(_INDEX["spawner"], spawner)]

    def mark(self, step: str) -> None:
        self.stamps.append((_INDEX[step], time.monotonic_ns()))

    def add(self, stamps: list[tuple[int, int]]) -> None:
        self.stamps.extend((i, ns) for i, ns in stamps if 0 <= i < len(STEPS))

    def relative(self) -> list[list]:
        """``[[step, ms since the request], ...]`` in step order, ``client`` first at 0."""
        out = [["client", 0.0]]
        for i, ns in sorted(self.stamps):
            out.append([STEPS[i], round((ns - self.t0) / 1e6, 3)])
        return out


def table(trace: list[list]) -> str:
    """A small text table: step, ms since the request, ms since the step before."""
    lines = [f"{'step':<11} {'ms':>9} {'+ms':>8}"]
    last = 0.0
    for step, ms in trace:
        lines.append(f"{step:<11} {ms:>9.3f} {ms - last:>8.3f}")
        last = ms
    return "\n".join(lines)
