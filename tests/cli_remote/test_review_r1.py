"""``vmvc -H`` against a hostile peer on the socket: whatever answers there, the real CLI ends with one
line and a non-zero exit, within ``VMVC_CLIENT_TIMEOUT``, without reading a huge answer into memory and
without printing the peer's newlines or terminal escapes."""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import threading
import time

import pytest

from tests.daemon.conftest import VMVC

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"


def _silent(conn, first):  # reads on until the client hangs up, answers nothing
    while conn.recv(65536):
        pass


def _drip(conn, first):  # a byte every 0.3 s: each read is quick, the answer never ends
    for b in HEAD + b"Content-Length: 100000\r\n\r\n" + b" " * 200:
        conn.sendall(bytes([b]))
        time.sleep(0.3)


def _huge(conn, first):  # an endless JSON body (and an endless progress line for pull)
    conn.sendall(HEAD + b"\r\n")
    chunk = b"[" + b"1," * (1 << 19)
    while True:
        conn.sendall(chunk)


def _hostile_error(conn, first):  # a 500 whose message has newlines, an escape and 50 kB (cut to 1000)
    body = b'{"message": "first\\nsecond \\u001b[2J' + b"x" * 50_000 + b'"}'
    conn.sendall(b"HTTP/1.1 500 Oops\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


class Peer:
    """A Unix socket whose every connection is served by ``behave(conn, first bytes of the request)``."""

    def __init__(self, path: str, behave) -> None:
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(path)
        self.server.listen(16)
        self.behave = behave
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn) -> None:
        try:
            self.behave(conn, conn.recv(65536))
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        try:  # wakes the thread blocked in accept() (close alone leaves it blocked for the whole run)
            self.server.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.server.close()


@pytest.mark.parametrize(("behave", "words"), [
    (_silent, "did not answer within 2 s"),
    (_drip, "did not answer within 2 s"),
    (_huge, "with more than 64 MiB"),
    (_hostile_error, "first second"),
])
@pytest.mark.parametrize("args", [("ps",), ("inspect", "x"), ("stop", "x"),
                                  ("run", "--rm", "busybox", "true")])
def test_a_hostile_daemon_gets_one_line_and_no_hang(tmp_path, behave, words, args, no_leaks):
    path = str(tmp_path / "peer.sock")
    peer = Peer(path, behave)
    try:
        r = subprocess.run([VMVC, "-H", f"unix://{path}", *args], capture_output=True, text=True,
                           timeout=60, stdin=subprocess.DEVNULL,
                           env={"PATH": "/usr/bin:/bin", "VMVC_CLIENT_TIMEOUT": "2"})
    finally:
        peer.close()
    assert r.returncode in (1, 125) and r.stdout == "", (r.returncode, r.stdout[:200])
    assert len(r.stderr.splitlines()) == 1 and words in r.stderr and "\x1b" not in r.stderr, r.stderr[:300]
    assert len(r.stderr) < 2000


def test_a_progress_stream_with_an_endless_line_ends(tmp_path):
    path = str(tmp_path / "peer.sock")
    peer = Peer(path, _huge)
    try:
        r = subprocess.run([VMVC, "-H", f"unix://{path}", "pull", "busybox"], capture_output=True, text=True,
                           timeout=120, stdin=subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin"})
    finally:
        peer.close()
    assert r.returncode == 1 and "streamed a line of more than 64 MiB" in r.stderr.splitlines()[-1], r.stderr


def test_an_attached_stream_with_a_huge_frame_ends_in_one_line(tmp_path, no_leaks):
    def behave(conn, first):
        if first.startswith(b"POST /exec/e/start"):
            conn.sendall(b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
                         + struct.pack(">BxxxI", 1, 0xFFFFFFF0))
            while True:
                conn.sendall(b"A" * (1 << 20))
        body = json.dumps({"Id": "e", "ExitCode": 0}).encode()
        conn.sendall(HEAD + b"Content-Length: %d\r\n\r\n" % len(body) + body)

    path = str(tmp_path / "peer.sock")
    peer = Peer(path, behave)
    try:
        r = subprocess.run([VMVC, "-H", f"unix://{path}", "exec", "x", "true"], capture_output=True,
                           text=True, timeout=60, stdin=subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin"})
    finally:
        peer.close()
    assert r.returncode == 1 and len(r.stderr.splitlines()) == 1, r.stderr
    assert "stream frame of 4294967280 bytes" in r.stderr


@pytest.mark.root
@pytest.mark.namespaces
@pytest.mark.overlay
@pytest.mark.cgroups
@pytest.mark.busybox
def test_a_name_with_a_query_in_it_reaches_no_other_endpoint(remote):
    """``restart``/``top`` built their path from the name unquoted: ``?`` cut it, and the rest went to
    ``POST /containers/web/kill?signal=KILL``."""
    v = remote.remote
    assert v("run", "-d", "--name", "web", "busybox", "sleep", "300").returncode == 0
    before = json.loads(v("inspect", "web").stdout)[0]["State"]
    try:
        for verb in ("restart", "top", "stop", "rm", "inspect"):
            r = v(verb, "web/kill?signal=KILL&x=")
            assert r.returncode == 1 and len(r.stderr.splitlines()) == 1, (verb, r.stderr)
        state = json.loads(v("inspect", "web").stdout)[0]["State"]
        assert state["Running"] and state["StartedAt"] == before["StartedAt"], state  # no kill, no restart
    finally:
        v("rm", "-f", "web")


@pytest.mark.root
@pytest.mark.namespaces
@pytest.mark.overlay
@pytest.mark.cgroups
@pytest.mark.busybox
@pytest.mark.docker_cli
def test_docker_build_quiet_prints_only_the_image_id(remote, tmp_path):
    """``docker build -q`` prints the stream the daemon sent: dockerd sends only the id with ``q=1``."""
    ctx = tmp_path / "app"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo built > /built\n")
    r = subprocess.run(["docker", "build", "-q", "-t", "quiet:1", str(ctx)], capture_output=True, text=True,
                       timeout=300, env={**remote.env, "DOCKER_BUILDKIT": "0"})
    assert r.returncode == 0, r.stderr
    image_id = json.loads(remote.remote("image", "inspect", "quiet:1").stdout)[0]["Id"]
    assert r.stdout == image_id + "\n"
