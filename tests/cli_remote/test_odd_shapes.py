"""A daemon whose answers have the wrong shape (valid JSON, wrong types): one line that names the daemon,
not an "internal error" of vmvc's."""

from __future__ import annotations

import subprocess

from tests.cli_remote.test_review_r1 import HEAD, Peer
from tests.daemon.conftest import VMVC


def _wrong_shapes(conn, first):
    body = b'[{"Id": 7, "Names": null, "Image": [], "Created": "x", "State": {}, "Status": 1}]'
    if first.startswith(b"GET /_ping") or b" /_ping" in first.split(b"\r\n", 1)[0]:
        body = b"OK"
    conn.sendall(HEAD + b"Content-Length: %d\r\n\r\n" % len(body) + body)


def test_an_answer_of_the_wrong_shape_names_the_daemon(tmp_path):
    path = str(tmp_path / "peer.sock")
    peer = Peer(path, _wrong_shapes)
    try:
        r = subprocess.run([VMVC, "-H", f"unix://{path}", "ps", "-a"], capture_output=True, text=True,
                           timeout=60, stdin=subprocess.DEVNULL,
                           env={"PATH": "/usr/bin:/bin", "VMVC_CLIENT_TIMEOUT": "5"})
    finally:
        peer.close()
    assert r.returncode == 1 and len(r.stderr.splitlines()) == 1, (r.returncode, r.stderr[-300:])
    assert "internal error" not in r.stderr and f"daemon at unix://{path}" in r.stderr, r.stderr
