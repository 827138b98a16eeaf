"""A hostile registry (a small HTTP server on loopback that serves what a test tells it): endless or lying
manifests and blobs, an index that points at itself, layers that try to write outside the store. Each
pull fails with one error, the memory and the disk stay bounded, the store is unchanged."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from runtime.errors import VmvcError
from runtime.registry import manifest as mf
from runtime.registry import pull
from tests.registry.conftest import fresh_store

MiB = 1 << 20


def sha(b: bytes) -> str:
    return "sha256:" + hashlib.sha256(b).hexdigest()


class Evil:
    """``routes[path] = (headers, body)``; body bytes, or an int: that many MiB of zeros, streamed."""

    def __init__(self):
        self.routes: dict[str, tuple[dict, bytes | int]] = {}
        evil = self

        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                headers, body = evil.routes.get(self.path, ({}, None))
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    if isinstance(body, int):
                        for _ in range(body):
                            self.wfile.write(bytes(MiB))
                    else:
                        self.wfile.write(body)
                except OSError:
                    pass  # the client stopped reading: what we wanted

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def manifest(self, doc, tag="latest", media=mf.OCI_MANIFEST, headers=None) -> str:
        raw = doc if isinstance(doc, (bytes, int)) else json.dumps(doc).encode()
        self.routes[f"/v2/library/evil/manifests/{tag}"] = ({"Content-Type": media, **(headers or {})}, raw)
        return sha(raw) if isinstance(raw, bytes) else ""

    def blob(self, data: bytes | int, digest: str | None = None) -> str:
        digest = digest or sha(data)
        self.routes[f"/v2/library/evil/blobs/{digest}"] = ({}, data)
        return digest

    def image(self, layer: bytes, size: int | None = None, layer_digest: str | None = None) -> None:
        """A one-layer image whose config's diff_id is the layer's own digest."""
        ld = layer_digest or self.blob(layer)
        if layer_digest:
            self.blob(layer, layer_digest)
        cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                          "rootfs": {"type": "layers", "diff_ids": [ld]}}).encode()
        self.manifest({"schemaVersion": 2, "mediaType": mf.OCI_MANIFEST,
                       "config": {"mediaType": mf.OCI_CONFIG, "digest": self.blob(cfg), "size": len(cfg)},
                       "layers": [{"mediaType": mf.OCI_LAYER, "digest": ld,
                                   "size": len(layer) if size is None else size}]})

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def evil():
    e = Evil()
    yield e
    e.close()


def layer_tar(*members) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, arg in members:
            ti = tarfile.TarInfo(name)
            if kind == "sym":
                ti.type, ti.linkname = tarfile.SYMTYPE, arg
                t.addfile(ti)
            elif kind == "hard":
                ti.type, ti.linkname = tarfile.LNKTYPE, arg
                t.addfile(ti)
            else:
                ti.size = len(arg)
                t.addfile(ti, io.BytesIO(arg))
    return buf.getvalue()


def refused(evil, tmp_path, match: str):
    store = fresh_store(tmp_path, f"victim{len(os.listdir(tmp_path))}")
    with pytest.raises(VmvcError, match=match) as e:
        pull(store, "evil", config={"hub": evil.url})
    assert "\n" not in str(e.value)
    assert list(store.images()) == []
    downloads = os.path.join(store.root, "downloads")
    assert not os.path.isdir(downloads) or os.listdir(downloads) == []
    return store


def test_an_endless_manifest_is_cut_at_8_mib(evil, tmp_path):
    evil.manifest(64)  # 64 MiB of zeros, streamed without a length
    refused(evil, tmp_path, "more than 8 MiB")


def test_an_index_pointing_at_itself_and_malformed_indexes(evil, tmp_path):
    # the index's own digest cannot be inside itself, so it names a tag-addressed copy of itself
    doc = {"schemaVersion": 2, "mediaType": mf.OCI_INDEX,
           "manifests": [{"mediaType": mf.OCI_INDEX, "digest": "sha256:" + "a" * 64, "size": 1,
                          "platform": {"os": "linux", "architecture": "amd64"}}]}
    raw = json.dumps(doc).encode()
    evil.manifest(raw, media=mf.OCI_INDEX)
    evil.manifest(raw, tag="sha256:" + "a" * 64, media=mf.OCI_INDEX)
    refused(evil, tmp_path, "digest mismatch|index inside an index")
    for bad in ({"mediaType": mf.OCI_INDEX, "manifests": ["x"]},
                {"mediaType": mf.OCI_INDEX, "manifests": [{"digest": 1}]},
                {"mediaType": mf.OCI_MANIFEST, "config": [], "layers": []}):
        evil.manifest(bad, media=bad["mediaType"])
        refused(evil, tmp_path, "no valid")


def test_a_manifest_whose_digest_header_lies(evil, tmp_path):
    evil.image(layer_tar(("a", "file", b"a")))
    key = "/v2/library/evil/manifests/latest"
    headers, raw = evil.routes[key]
    evil.routes[key] = ({**headers, "Docker-Content-Digest": "sha256:" + "b" * 64}, raw)
    refused(evil, tmp_path, "digest mismatch")


def test_a_layer_longer_than_its_size_is_not_downloaded_to_the_end(evil, tmp_path, monkeypatch):
    """The descriptor says 1 KiB, the server streams 200 MiB: vmvc stops reading after 1 KiB + 1 byte."""
    seen = []
    real = os.unlink
    monkeypatch.setattr(os, "unlink", lambda p, *a, **k: (  # downloads only, not the staging dir's cleanup
        k.get("dir_fd") is None and seen.append(os.path.getsize(p)), real(p, *a, **k)))
    evil.image(200, size=1024, layer_digest="sha256:" + "c" * 64)
    refused(evil, tmp_path, "digest mismatch")
    assert seen and max(seen) <= 1025
    evil.image(layer_tar(("a", "file", b"a")), size=0)
    refused(evil, tmp_path, "no valid size")


@pytest.mark.parametrize("members", [
    [("../../../../../../../../../tmp/h9-escape-dotdot", "file", b"pwn")],
    [("/tmp/h9-escape-abs", "file", b"pwn"), ("x/../../../up", "file", b"pwn")],
    [("d", "sym", "/tmp"), ("d/h9-escape-through-link", "file", b"pwn")],
    [("h", "hard", "/etc/shadow")],
], ids=["dotdot", "abs-and-inner-dotdot", "through-symlink", "hardlink-to-host"])
def test_layers_that_reach_outside_the_store_are_refused(evil, tmp_path, members):
    evil.image(layer_tar(*members))
    refused(evil, tmp_path, "unsafe layer entry")
    for p in ("/tmp/h9-escape-dotdot", "/tmp/h9-escape-abs", "/tmp/h9-escape-through-link", "/up", "/tmp/up"):
        assert not os.path.exists(p)
    with open("/etc/shadow", "rb") as f:
        assert f.read(1)  # the host file is intact (a hard link would share its inode)
