"""The engine's trace of every start: the steps, in order, through the library, inspect and the CLI."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from runtime.containers import Spec, trace
from tests.containers.conftest import REAL

CONTAINER_STEPS = ["overlay", "mounts", "pivot_root", "exec"]


def real(test):
    """The capability markers of tests on the real kernel (this module also has unit tests)."""
    for mark in REAL:
        test = mark(test)
    return test


def _check(steps: list[list], expected: list[str]) -> None:
    assert [s for s, _ in steps] == expected
    times = [ms for _, ms in steps]
    assert times[0] == 0.0 and all(b >= a for a, b in zip(times, times[1:], strict=False)), steps


def test_the_child_s_stamps_reach_the_spawner_as_one_message():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    saved = list(trace._child)
    t = trace.Trace()  # the spawner reads a request (t0: no client's time, so its own)
    try:
        trace._child.clear()
        for step in CONTAINER_STEPS:
            trace.stamp(step)
        trace.send(a)
        message = b.recv(4096)
    finally:
        trace._child[:] = saved
        a.close()
        b.close()
    assert message.startswith(trace.TAG)
    got = trace.parse(message)
    assert [trace.STEPS[i] for i, _ in got] == CONTAINER_STEPS
    t.add(got + [(250, 0)])  # an index out of range is dropped
    t.mark("running")
    _check(t.relative(), ["client", *sorted(["spawner", *CONTAINER_STEPS, "running"], key=trace.STEPS.index)])
    assert trace.parse(trace.TAG + b"\x01") == []  # malformed: nothing


def test_a_trace_is_a_table_of_steps():
    text = trace.table([["client", 0.0], ["spawner", 1.5], ["reap", 4.0]])
    lines = text.splitlines()
    assert lines[0].split() == ["step", "ms", "+ms"]
    assert lines[2].split() == ["spawner", "1.500", "1.500"]
    assert lines[3].split() == ["reap", "4.000", "2.500"]


@real
def test_run_returns_its_trace_and_inspect_keeps_it(engine):
    r = engine.run(Spec("busybox", ["true"], auto_remove=True))
    _check(r.trace, list(trace.STEPS))
    cid = engine.create(Spec("busybox", ["true"]))
    assert engine.inspect(cid)["Trace"] == []  # never started
    engine.start(cid)
    assert engine.wait(cid) == 0
    steps = [s for s in trace.STEPS if s != "slot"]  # created before: no slot in this start
    _check(engine.inspect(cid)["Trace"], steps)
    engine.remove(cid)


@real
def test_vmvc_run_trace_prints_the_steps_on_stderr(engine):
    r = subprocess.run(
        [sys.executable, "-m", "runtime.cli.main", "run", "--rm", "--trace", "busybox", "echo", "hi"],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ.copy(),
    )
    assert r.returncode == 0 and r.stdout == "hi\n", r.stderr
    rows = [line.split()[0] for line in r.stderr.splitlines()[1:]]
    assert rows == list(trace.STEPS), r.stderr
