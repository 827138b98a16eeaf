"""Layers extracted as they arrive: whatever goes wrong mid-stream (a corrupted blob, a cut connection,
Ctrl-C, kill -9), the candidate layer in the staging dir never enters the store and no staging dir stays;
what a pull stores is, byte for byte, the layer skopeo fetches."""

from __future__ import annotations

import glob
import gzip
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from benchmarks.netshape import ShapedProxy
from benchmarks.suites._registry import Image, layer_body, upload
from runtime.errors import VmvcError
from runtime.registry import LocalRegistry, pull
from tests.registry.conftest import fresh_store

pytestmark = [pytest.mark.registry]

# two small layers like the benchmark's: many small text files, then a few incompressible ones
SPECS = [("etc", 120, 3000, "text"), ("media", 3, 300_000, "random")]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """A registry holding library/app: two gzip layers (Docker schema 2), as Docker Hub serves them."""
    tmp = tmp_path_factory.mktemp("app-hub")
    bodies = [layer_body(*spec, seed=i) for i, spec in enumerate(SPECS)]
    config, layers = Image(bodies, ["sh"]).variant(0)
    with LocalRegistry(str(tmp / "hub")) as reg:
        reg.digest = upload(reg.url, "library/app", config, layers)
        reg.bodies = bodies
        yield reg


def left_behind(store) -> dict:
    """What a failed pull must not leave: staging dirs, layers, images (partial downloads may stay)."""
    return {"staging": sorted(n for n in os.listdir(store.tmp) if n.startswith("vmvc-stage")),
            "layers": sorted(os.listdir(store.layers)), "images": [i.id for i in store.images()]}


CLEAN = {"staging": [], "layers": [], "images": []}


@pytest.mark.skopeo
def test_layers_stream_into_the_store_as_skopeo_sees_them(app, tmp_path):
    store = fresh_store(tmp_path, "s")
    said = []
    result = pull(store, f"{app.host}/library/app:latest", config={}, progress=said.append)
    assert result.new and result.digest == app.digest
    assert left_behind(store)["staging"] == [] and os.listdir(os.path.join(store.root, "downloads")) == []
    # skopeo's copy of the same image: its layers, decompressed, are the tars vmvc rebuilds from its store
    oci = tmp_path / "oci"
    subprocess.run(["skopeo", "copy", "--quiet", "--src-tls-verify=false",
                    f"docker://{app.host}/library/app:latest", f"oci:{oci}:x"], check=True, timeout=120)
    index = json.loads((oci / "index.json").read_text())
    manifest = json.loads((oci / "blobs/sha256" / index["manifests"][0]["digest"][7:]).read_text())
    assert len(manifest["layers"]) == len(result.image.diff_ids) == 2
    for desc, diff_id in zip(manifest["layers"], result.image.diff_ids, strict=True):
        theirs = gzip.decompress((oci / "blobs/sha256" / desc["digest"][7:]).read_bytes())
        with store.open_layer_tar(diff_id) as f:
            ours = f.read()
            getattr(f, "verify", lambda: None)()
        assert ours == theirs and "sha256:" + hashlib.sha256(theirs).hexdigest() == diff_id
    text = glob.glob(os.path.join(store.layer_dir(result.image.diff_ids[0]), "etc", "d00", "f*"))[0]
    assert os.path.getsize(text) > 0
    statuses = [ev["status"] for ev in said if ev.get("id")]
    assert statuses.count("Pull complete") == 2 and statuses.count("Verifying Checksum") == 2
    # a second image sharing the first layer fetches only what the store lacks
    config, layers = Image([app.bodies[0], layer_body("more", 5, 100, "text", seed=9)], ["sh"]).variant(0)
    upload(app.url, "library/app2", config, layers)
    said.clear()
    pull(store, f"{app.host}/library/app2:latest", config={}, progress=said.append)
    assert [ev["status"] for ev in said if ev["status"] in ("Already exists", "Pull complete")] == \
        ["Already exists", "Pull complete"]


def _corrupt_blob(reg, digest: str) -> None:
    path = f"{reg.dir}/data/docker/registry/v2/blobs/sha256/{digest[7:9]}/{digest[7:]}/data"
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) // 2)
        f.write(b"\0corrupted\0")


def test_a_corrupted_layer_is_extracted_but_never_enters_the_store(tmp_path):
    config, layers = Image([layer_body(*SPECS[0], seed=0)], ["sh"]).variant(0)
    with LocalRegistry(str(tmp_path / "hub")) as reg:
        upload(reg.url, "library/bad", config, layers)
        _corrupt_blob(reg, "sha256:" + hashlib.sha256(layers[0]).hexdigest())
        store = fresh_store(tmp_path, "s")
        with pytest.raises(VmvcError, match="digest mismatch") as e:
            pull(store, f"{reg.host}/library/bad:latest", config={})
    assert "\n" not in str(e.value)
    assert left_behind(store) == CLEAN
    assert os.listdir(os.path.join(store.root, "downloads")) == []  # bad bytes are never resumed from


def test_a_cut_stream_leaves_no_layer_and_resumes_from_the_kept_bytes(app, tmp_path):
    store = fresh_store(tmp_path, "s")
    ref_path = "library/app:latest"
    with ShapedProxy(app.port, cut_after=200_000, cut_times=2) as far:
        with pytest.raises(VmvcError, match="cut short"):
            pull(store, f"{far.host}/{ref_path}", config={})
        assert left_behind(store) == CLEAN
        kept = os.listdir(os.path.join(store.root, "downloads"))
        assert kept and all(os.path.getsize(os.path.join(store.root, "downloads", k)) > 0 for k in kept)
        while far.cut_times:  # the second layer may have been stopped before its own cut: use them up
            with pytest.raises(VmvcError, match="cut short"):
                pull(store, f"{far.host}/{ref_path}", config={})
        result = pull(store, f"{far.host}/{ref_path}", config={})
    assert result.new and result.digest == app.digest
    assert any(b"Range: bytes=" in r for r in far.requests)
    assert left_behind(store)["staging"] == [] and os.listdir(os.path.join(store.root, "downloads")) == []


PULLER = """
import os, sys
from runtime.images import open_store
from runtime.registry import pull
open(sys.argv[2], "w").write(str(os.getpid()))
pull(open_store(), sys.argv[1], config={})
"""


def _start_slow_pull(app, tmp_path, far):
    root = tmp_path / "root"
    pidfile = tmp_path / "pid"
    proc = subprocess.Popen([sys.executable, "-c", PULLER, f"{far.host}/library/app:latest", str(pidfile)],
                            env={**os.environ, "VMVC_ROOT": str(root)}, stderr=subprocess.PIPE, text=True)
    store = fresh_store(tmp_path, "root")
    deadline = time.monotonic() + 60
    while not glob.glob(os.path.join(store.tmp, "vmvc-stage-*", "fetch-*", "layer-*", "*")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.02)  # a layer is being extracted in the staging dir while it downloads
    return proc, store


def test_ctrl_c_mid_stream_removes_the_staging_dir_and_keeps_the_download(app, tmp_path):
    with ShapedProxy(app.port, rate=200_000) as far:
        proc, store = _start_slow_pull(app, tmp_path, far)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode != 0 and "KeyboardInterrupt" in err
        assert left_behind(store) == CLEAN
        assert any(os.path.getsize(p) for p in glob.glob(os.path.join(store.root, "downloads", "*")))
        result = pull(store, f"{far.host}/library/app:latest", config={})  # resumes what it kept
    assert result.digest == app.digest and left_behind(store)["staging"] == []


def test_kill_9_mid_stream_leaves_a_staging_dir_the_next_pull_removes(app, tmp_path):
    with ShapedProxy(app.port, rate=200_000) as far:
        proc, store = _start_slow_pull(app, tmp_path, far)
        proc.kill()
        proc.communicate(timeout=60)
        assert left_behind(store)["staging"] and left_behind(store)["images"] == []
        assert not os.listdir(store.layers)
        pull(store, f"{far.host}/library/app:latest", config={})
    assert left_behind(store)["staging"] == [] and len(store.images()) == 1
