"""Bad requests get 4xx JSON or are dropped; the daemon never dies and leaks nothing."""

from __future__ import annotations

import http.client
import json
import socket
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.security.hostile import BAD_REQUESTS
from tests.daemon.conftest import REAL_PARTS

pytestmark = REAL_PARTS


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(30)
        self.sock.connect(self.path)


def call(sock, method, path, body=None, headers=None):
    conn = UnixHTTP(sock)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def alive(d) -> bool:
    return call(d.sock, "GET", "/_ping") == (200, b"OK")


def test_bad_requests_answer_json_errors(vmvcd):
    s = vmvcd.sock
    for method, path, body, want in BAD_REQUESTS:  # shared with `vmvc doctor --security`
        status, raw = call(s, method, path, body, {"Content-Type": "application/json"})
        assert status == want, (method, path, status, raw)
        assert "message" in json.loads(raw), raw
    assert alive(vmvcd)


def test_huge_body_slowloris_and_vanishing_clients(vmvcd):
    status, raw = call(vmvcd.sock, "POST", "/containers/create", b"{" + b" " * (5 << 20) + b"}",
                       {"Content-Type": "application/json"})
    assert status == 413 and b"larger" in raw
    slow = socket.socket(socket.AF_UNIX)
    slow.connect(vmvcd.sock)
    slow.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n")  # and never finishes its headers
    assert alive(vmvcd)  # others are served meanwhile
    slow.settimeout(30)
    assert b"400" in slow.recv(1024).split(b"\r\n")[0]  # dropped after the header timeout
    slow.close()
    # a client that vanishes in the middle of a stream
    vmvcd.docker("run", "-d", "--name", "chatty", "busybox", "sh", "-c",
                 "while :; do echo x; sleep 0.05; done", check=True)
    for path in ("/containers/chatty/logs?stdout=1&follow=1", "/events"):
        s = socket.socket(socket.AF_UNIX)
        s.connect(vmvcd.sock)
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        s.recv(100)
        s.close()
    s = socket.socket(socket.AF_UNIX)
    s.connect(vmvcd.sock)
    s.sendall(b"POST /containers/chatty/attach?stream=1&stdout=1 HTTP/1.1\r\nHost: x\r\nUpgrade: tcp\r\n"
              b"Connection: Upgrade\r\n\r\n")
    s.recv(100)
    s.close()
    time.sleep(0.3)
    assert alive(vmvcd)
    vmvcd.docker("rm", "-f", "chatty", check=True)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(method=st.sampled_from(["GET", "POST", "DELETE", "HEAD", "PUT"]),
       path=st.sampled_from(["/containers/create", "/containers/json", "/containers/x/json", "/images/json",
                             "/images/create", "/exec/x/start", "/containers/x/wait", "/info", "/x"]),
       query=st.text(alphabet="abcdefghijklmnopqrstuvwxyz=&%1{}\"", max_size=30),
       body=st.one_of(st.none(), st.binary(max_size=200),
                      st.dictionaries(st.sampled_from(["Image", "Cmd", "HostConfig", "Env", "Tty", "Labels"]),
                                      st.one_of(st.none(), st.integers(), st.text(max_size=10),
                                                st.lists(st.integers(), max_size=3),
                                                st.dictionaries(st.text(max_size=5), st.integers(),
                                                                max_size=2)),
                                      max_size=4)))
def fuzz_once(sock, method, path, query, body):
    if isinstance(body, dict):
        body = json.dumps(body).encode()
    if path == "/images/create" and "fromImage" not in query:
        query += "&fromSrc=x"  # never a real import of random bytes into the store from here
    try:
        status, raw = call(sock, method, path + ("?" + query if query else ""), body)
    except (TimeoutError, ConnectionError, http.client.HTTPException):
        return
    assert status < 500 or status == 500 and b"message" in raw


def test_fuzzed_requests_never_kill_the_daemon(vmvcd):
    fuzz_once(vmvcd.sock)
    assert alive(vmvcd)
    assert vmvcd.docker("ps", "-aq", check=True).stdout.strip().count(b"\n") < 60


def test_tcp_is_refused_and_a_live_socket_is_not_stolen(vmvcd):
    import subprocess

    from tests.daemon.conftest import VMVC

    r = subprocess.run([VMVC, "daemon", "-H", "tcp://127.0.0.1:2375"], capture_output=True, timeout=30)
    assert r.returncode == 125 and b"refusing to listen on tcp://" in r.stderr
    r = subprocess.run([VMVC, "daemon", "-H", f"unix://{vmvcd.sock}"], capture_output=True, timeout=30,
                       env=vmvcd.env)
    assert r.returncode == 125 and b"already listening" in r.stderr
    assert alive(vmvcd)


@pytest.mark.parametrize("config,words", [("{bad", b"unable to configure the daemon"),
                                          ("[1]", b"must be an object")])
def test_bad_config_file_is_one_line(tmp_path, config, words):
    import subprocess

    from tests.daemon.conftest import VMVC

    path = tmp_path / "daemon.json"
    path.write_text(config)
    r = subprocess.run([VMVC, "daemon", "-H", f"unix://{tmp_path}/s.sock", "--config-file", str(path)],
                       capture_output=True, timeout=30)
    assert r.returncode == 125 and words in r.stderr and len(r.stderr.splitlines()) == 1
