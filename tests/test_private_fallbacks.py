"""CPython internals used for speed each fall back to the public API: an upgrade costs speed, not behaviour.

``_json`` (wire format), ``_socket`` (the spawner client), ``atexit._ncallbacks`` (the launcher's quick
exit). Each test takes the private name away and checks the public path does the same job. The layer
reader uses no private tarfile hook at all (its header limit sits in the public ``frombuf``).
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import tarfile
import threading

import pytest

from runtime.images import layers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _python(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter (module imports happen there, after the private name is gone)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)


WIRE_CHECKS = """
import json, sys
from runtime.containers import wire
objs = [{"op": "run", "spec": {"cmd": ["sh", "-c", 'echo "\\u00e9"'], "memory": None}, "v": 2},
        {"exit": 137, "big": 10**30, "neg": -1.25e-7, "inf": float("inf")},
        [[], {}, "", "\\u2603\\x00", False]]
for obj in objs:
    assert wire.dumps(obj) == json.dumps(obj), obj
    assert wire.loads(json.dumps(obj).encode()) == json.loads(json.dumps(obj))
    assert wire.loads(" \\n" + json.dumps(obj) + "\\n") == json.loads(json.dumps(obj))
for bad in ["", "{", '{"a": 1} x', "nul", "[1,]"]:
    try:
        wire.loads(bad)
    except ValueError:
        pass
    else:
        raise AssertionError(bad)
try:
    wire.dumps({"a": object()})
except TypeError as e:
    assert "not JSON serializable" in str(e)
else:
    raise AssertionError("dumps accepted an object")
frames = wire.Decoder().feed(wire.message({"exit": 3}))
assert frames == [(wire.JSON, b'{"exit": 3}')] and wire.decode_json(frames[0][1]) == {"exit": 3}
print(wire.FAST)
"""


def test_wire_json_uses_the_c_accelerator_here():
    r = _python(WIRE_CHECKS)
    assert (r.returncode, r.stdout) == (0, "True\n"), r.stderr


def test_wire_json_without_the_private_accelerator_behaves_the_same():
    r = _python("import sys; sys.modules['_json'] = None\n" + WIRE_CHECKS)
    assert (r.returncode, r.stdout) == (0, "False\n"), r.stderr


def test_wire_json_with_a_changed_accelerator_falls_back():
    """A ``_json`` whose functions take other arguments (a future CPython) is noticed at import."""
    code = ("import sys, types, _json as real\n"
            "fake = types.ModuleType('_json'); fake.__dict__.update(vars(real))\n"
            "def make_scanner(ctx):  # takes only a json.JSONDecoder from now on\n"
            "    if type(ctx).__name__ != 'JSONDecoder':\n"
            "        raise TypeError('make_scanner() argument must be a JSONDecoder')\n"
            "    return real.make_scanner(ctx)\n"
            "fake.make_scanner = make_scanner\n"
            "sys.modules['_json'] = fake\n" + WIRE_CHECKS)
    r = _python(code)
    assert (r.returncode, r.stdout) == (0, "False\n"), r.stderr


def test_the_client_talks_over_the_public_socket_module_without_the_private_one(tmp_path):
    path = str(tmp_path / "s.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)

    def answer():  # a spawner stand-in: reads a ping, replies with a frame
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"J\0\0\0\x02{}")

    t = threading.Thread(target=answer, daemon=True)
    t.start()
    code = ("import socket, sys; sys.modules['_socket'] = None\n"
            "from runtime.containers import client\n"
            "assert client.unix_socket is socket.socket\n"
            f"print(client._alive({path!r}))\n")
    try:
        r = _python(code)
    finally:
        t.join(timeout=30)
        server.close()
    assert (r.returncode, r.stdout) == (0, "True\n"), r.stderr


def test_the_launcher_exits_at_once_when_nothing_runs_at_exit(monkeypatch):
    from runtime.cli import launcher

    class QuickExit(Exception):
        pass

    def _exit(code):
        raise QuickExit(code)

    monkeypatch.setattr(launcher.os, "_exit", _exit)
    monkeypatch.setattr(atexit, "_ncallbacks", lambda: 0, raising=False)
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    with pytest.raises(QuickExit) as e:
        launcher.exit_now(3)
    assert e.value.args == (3,)


def test_the_launcher_tears_down_normally_without_the_private_counter(monkeypatch):
    from runtime.cli import launcher

    def _exit(code):
        raise AssertionError("os._exit without knowing whether atexit has work")

    monkeypatch.setattr(launcher.os, "_exit", _exit)
    monkeypatch.delattr(atexit, "_ncallbacks", raising=False)
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    with pytest.raises(SystemExit) as e:
        launcher.exit_now(4)
    assert e.value.code == 4


def test_the_layer_reader_overrides_no_private_tarfile_hook():
    private = [name for name in vars(layers.LimitedTarInfo) if name.startswith("_")
               and not name.startswith("__") and hasattr(tarfile.TarInfo, name)]
    assert private == []


def test_an_oversized_pax_header_is_refused_before_it_is_read():
    import io

    hdr = tarfile.TarInfo("PaxHeaders/evil")
    hdr.type, hdr.size = tarfile.XHDTYPE, 64 << 20
    data = io.BytesIO(hdr.tobuf(format=tarfile.USTAR_FORMAT) + b"0" * 1024)
    with pytest.raises(layers.UnsafeArchive, match="oversized header"):
        with tarfile.open(fileobj=data, mode="r:", tarinfo=layers.LimitedTarInfo) as tf:
            tf.getmembers()
    assert data.tell() <= 2048  # tarfile never went on to read the 64 MiB
