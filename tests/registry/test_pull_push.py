"""Pull and push against a real registry: digests, platforms, corruption, truncation, auth."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import subprocess
import urllib.request

import pytest

from benchmarks.netshape import ShapedProxy
from runtime.errors import VmvcError
from runtime.registry import LocalRegistry, pull, push
from tests.registry.conftest import fresh_store

pytestmark = [pytest.mark.registry, pytest.mark.busybox]


def skopeo_digest(ref: str) -> str:
    out = subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{ref}"], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    return json.loads(out)["Digest"]


def image_ids(store) -> list[str]:
    return sorted(i.id for i in store.images())


@pytest.mark.skopeo
def test_pull_matches_what_skopeo_sees_and_push_round_trips(hub, tmp_path):
    store = fresh_store(tmp_path, "pulls")
    result = pull(store, "busybox", config={"hub": hub.url})
    assert result.new and result.endpoint == hub.url
    assert result.digest == skopeo_digest(f"{hub.host}/library/busybox:latest")
    seeded = {r.reference.rsplit("/", 1)[-1]: r for r in hub.seeded}
    assert result.digest == seeded["busybox:latest"].digest
    assert store.find("busybox").id == result.image.id
    assert pull(store, "busybox", config={"hub": hub.url}).new is False  # up to date: nothing fetched
    # push under another name, read it back with skopeo, pull it by digest into a third store
    store.tag("busybox", f"{hub.host}/course/bb:v1")
    pushed = push(store, f"{hub.host}/course/bb:v1", config={})
    assert pushed.digest == skopeo_digest(f"{hub.host}/course/bb:v1")
    again = push(store, f"{hub.host}/course/bb:v1", config={})
    assert again.sent == 0 and again.skipped == 2  # nothing is sent twice
    third = fresh_store(tmp_path, "third")
    said = []
    by_digest = pull(third, f"{hub.host}/course/bb@{pushed.digest}", config={}, progress=said.append)
    assert by_digest.image.id == result.image.id and by_digest.digest == pushed.digest
    # loopback is insecure: HTTPS is tried first and, as with dockerd, its failure is not shown
    statuses = [ev["status"] for ev in said]
    assert sum(s.startswith("Pulling from") for s in statuses) == 1
    assert not any("failed" in s for s in statuses), statuses


def _put_index(hub, platforms: list[str]) -> None:
    """A manifest list in the hub pointing at busybox's manifest under each platform given."""
    req = urllib.request.Request(f"{hub.url}/v2/library/busybox/manifests/latest",
                                 headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    raw = urllib.request.urlopen(req, timeout=30).read()
    desc = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": len(raw),
            "digest": "sha256:" + hashlib.sha256(raw).hexdigest()}
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{**desc, "platform": {"os": p.split("/")[0], "architecture": p.split("/")[1]}}
                           for p in platforms]}
    body = json.dumps(index).encode()
    put = urllib.request.Request(f"{hub.url}/v2/library/busybox/manifests/multi", data=body, method="PUT",
                                 headers={"Content-Type": "application/vnd.oci.image.index.v1+json"})
    urllib.request.urlopen(put, timeout=30).read()


def test_an_index_picks_linux_amd64_and_refuses_other_platforms(hub, tmp_path):
    store = fresh_store(tmp_path, "idx")
    _put_index(hub, ["linux/arm64", "linux/amd64"])
    assert pull(store, "busybox:multi", config={"hub": hub.url}).image.os == "linux"
    _put_index(hub, ["linux/arm64", "windows/amd64"])
    other = fresh_store(tmp_path, "idx2")
    with pytest.raises(VmvcError, match="no matching manifest for linux/amd64"):
        pull(other, "busybox:multi", config={"hub": hub.url})
    assert image_ids(other) == []


def test_a_corrupted_blob_is_refused_and_the_store_is_unchanged(hub, tmp_path):
    layer = next(r for r in hub.seeded if "busybox" in r.reference)
    blobs = [p for p in glob.glob(f"{hub.dir}/data/docker/registry/v2/blobs/sha256/*/*/data")
             if os.path.getsize(p) > 1_000_000]
    assert blobs, "the busybox layer blob should be in the registry's storage"
    with open(blobs[0], "r+b") as f:
        f.seek(1000)
        f.write(b"\0corrupted\0")
    store = fresh_store(tmp_path, "bad")
    with pytest.raises(VmvcError, match="digest mismatch"):
        pull(store, "busybox", config={"hub": hub.url})
    assert image_ids(store) == [] and layer.digest
    assert os.listdir(os.path.join(store.root, "downloads")) == []  # bad bytes are not kept for resuming


def test_a_truncated_download_resumes_with_range(hub, tmp_path):
    store = fresh_store(tmp_path, "resume")
    with ShapedProxy(hub.port, cut_after=700_000) as far:
        with pytest.raises(VmvcError):
            pull(store, "busybox", config={"hub": far.url})
        assert image_ids(store) == []
        partial = os.listdir(os.path.join(store.root, "downloads"))
        assert len(partial) == 1
        result = pull(store, "busybox", config={"hub": far.url})
    assert result.new
    assert any(b"Range: bytes=" in r for r in far.requests)  # the second pull asked for the rest only
    assert os.listdir(os.path.join(store.root, "downloads")) == []


def test_unauthorized_without_credentials_then_login(tmp_path, monkeypatch):
    bcrypt = pytest.importorskip("bcrypt")
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_bytes(b"teacher:" + bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)) + b"\n")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    seeder = fresh_store(tmp_path, "seed-auth")
    with LocalRegistry(str(tmp_path / "private"), htpasswd=str(htpasswd)) as reg:
        seeder.resolve("busybox")
        seeder.tag("busybox", f"{reg.host}/class/bb:1")
        with pytest.raises(VmvcError, match="authentication required"):
            push(seeder, f"{reg.host}/class/bb:1", config={})
        vmvc = os.path.join(os.path.dirname(os.sys.executable), "vmvc")
        bad = subprocess.run([vmvc, "login", reg.host, "-u", "teacher", "--password-stdin"], input="wrong\n",
                             capture_output=True, text=True, timeout=60, env=os.environ)
        assert bad.returncode == 1 and "unauthorized" in bad.stderr
        ok = subprocess.run([vmvc, "login", reg.host, "-u", "teacher", "--password-stdin"], input="s3cret\n",
                            capture_output=True, text=True, timeout=60, env=os.environ)
        assert ok.returncode == 0 and "Login Succeeded" in ok.stdout, ok.stderr
        config = tmp_path / "docker-config" / "config.json"
        assert oct(config.stat().st_mode & 0o777) == "0o600"
        push(seeder, f"{reg.host}/class/bb:1", config={})
        puller = fresh_store(tmp_path, "pull-auth")
        assert pull(puller, f"{reg.host}/class/bb:1", config={}).new
