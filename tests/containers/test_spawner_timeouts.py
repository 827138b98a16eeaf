"""A stuck start cannot freeze the spawner: other containers keep logging and starting meanwhile.

The stuck start is real: the spawner's ready stem (a forked child that has prepared its namespaces
and waits for its container's config) is stopped with SIGSTOP, so the next start sends its config to
a process that never answers -- as one hanging in a mount or on a FIFO would.
"""

from __future__ import annotations

import os
import socket
import threading
import time

import psutil
import pytest

from runtime.containers import Spec
from runtime.errors import VmvcError
from tests.containers.conftest import REAL

pytestmark = REAL

TICKER = ["sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.02; done"]


def _ready_stem(engine, busy: set[int], seconds: float = 20.0) -> psutil.Process:
    """The spawner's ready stem: its child that is neither the janitor nor a container, once it has
    staged its container's ``/sys`` (the last step before it says it is ready)."""
    ping = engine.spawner.request({"op": "ping"})
    spawner = psutil.Process(ping["pid"])
    staged = os.path.join(engine.table.mountpoint, "sys")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for child in spawner.children():
            if child.pid in busy or child.pid == ping["janitor"]:
                continue
            try:
                with open(f"/proc/{child.pid}/mountinfo") as f:
                    if any(line.split()[4] == staged for line in f):
                        if child.status() == psutil.STATUS_SLEEPING:  # in recv(), waiting for a config
                            return child
            except (OSError, IndexError):
                pass
        time.sleep(0.02)
    raise AssertionError("the spawner has no ready stem")


def _log_lines(engine, ref: str) -> int:
    return sum(1 for _ in engine.logs(ref))


def _background(fn) -> tuple[threading.Thread, dict]:
    out: dict = {}

    def target():
        try:
            out["result"] = fn()
        except BaseException as e:  # noqa: BLE001 -- handed to the test
            out["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t, out


def test_a_start_on_a_stem_that_never_answers_does_not_stop_other_containers(engine, no_leaks):
    ticker = engine.create(Spec("busybox", TICKER, name="ticker"))
    engine.start(ticker)
    stem = _ready_stem(engine, {engine.inspect(ticker)["State"]["Pid"]})
    stem.suspend()
    try:
        hung, outcome = _background(lambda: engine.run(Spec("busybox", ["true"], auto_remove=True)))
        # wait until the spawner gave the stopped stem this start (it records the stem as its pid)
        deadline = time.monotonic() + 30
        while not any(r.state.get("pid") == stem.pid for r in engine.list()):
            assert time.monotonic() < deadline, "the start never reached the stem"
            time.sleep(0.02)
        assert hung.is_alive()
        before = _log_lines(engine, ticker)
        r = engine.run(Spec("busybox", ["echo", "still starting"], auto_remove=True))
        assert (r.exit_code, r.stdout) == (0, b"still starting\n")
        deadline = time.monotonic() + 30
        while _log_lines(engine, ticker) <= before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _log_lines(engine, ticker) > before, "the running container's output stopped being logged"
        assert engine.exec_run(ticker, ["echo", "exec ok"]).stdout == b"exec ok\n"
        assert hung.is_alive(), "the stuck start should still be waiting"
    finally:
        stem.kill()  # the stuck start now fails with one clear error
    hung.join(60)
    assert not hung.is_alive()
    assert isinstance(outcome.get("error"), VmvcError), outcome
    engine.stop(ticker, timeout=0)
    engine.remove(ticker)


def test_a_start_that_hangs_is_killed_after_the_start_timeout(engine, no_leaks, monkeypatch):
    monkeypatch.setenv("VMVC_START_TIMEOUT", "2")  # read by the spawner this engine starts
    engine.run(Spec("busybox", ["true"], auto_remove=True))
    stem = _ready_stem(engine, set())
    stem.suspend()
    with pytest.raises(VmvcError, match="did not start within 2 s"):
        engine.run(Spec("busybox", ["true"], name="stuck"))
    assert engine.wait("stuck") == 125 and "did not start" in engine.inspect("stuck")["State"]["Error"]
    assert not psutil.pid_exists(stem.pid) or stem.status() == psutil.STATUS_ZOMBIE
    r = engine.run(Spec("busybox", ["echo", "next"], auto_remove=True))
    assert r.stdout == b"next\n"
    engine.remove("stuck")


def _silent_spawner(table) -> socket.socket:
    """A unix socket where the spawner's would be, that accepts connections and never answers."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(table.socket_path)
    listener.listen(8)
    return listener


def test_the_client_gives_up_on_a_spawner_that_never_answers(tmp_path, monkeypatch):
    from runtime.containers import client
    from runtime.containers.state import Containers

    table = Containers(tmp_path)
    listener = _silent_spawner(table)
    monkeypatch.setattr(client, "REPLY_TIMEOUT", 0.3)
    try:
        with pytest.raises(VmvcError, match="did not answer within 0.3 s"):
            client.SpawnerClient(table).request({"op": "ping"}, launch=False)
    finally:
        listener.close()


def test_a_silent_stream_gives_up_once_the_spawner_is_gone(tmp_path, monkeypatch):
    """A stream may be silent (a quiet container); it ends with an error only when the spawner no
    longer answers a ping on a second connection."""
    from runtime.containers import client, wire
    from runtime.containers.state import Containers

    table = Containers(tmp_path)
    listener = _silent_spawner(table)
    monkeypatch.setattr(client, "LIVENESS_INTERVAL", 0.2)
    monkeypatch.setattr(client, "PING_TIMEOUT", 0.2)

    def serve():
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(wire.message({"ok": True}))  # the first reply, then silence
        listener.close()  # and the "spawner" is gone: pings cannot connect
        return conn

    t, out = _background(serve)
    session = client.SpawnerClient(table).session({"op": "attach", "id": "x"}, launch=False)
    t.join(10)
    assert session.reply == {"ok": True}
    with pytest.raises(VmvcError, match="stopped answering"):
        session.read()
    session.close()
    out["result"].close()
