"""save/load round trips with docker-archive and OCI layouts, checked against skopeo."""

import io
import json
import subprocess
import tarfile

import pytest

from runtime.images import archives, open_store
from tests.images.helpers import make_docker_archive, make_tar
from tests.images.test_safety import store_state


def _ids(images):
    return sorted(i.id for i in images)


def test_save_then_load_into_a_fresh_store_keeps_ids_and_tags(store, tmp_path):
    originals = [store.resolve("hello-world"),
                 store.import_tar(io.BytesIO(make_tar([("f", "file", "1")])), "mine/app:v2")]
    out = tmp_path / "images.tar"
    archives.save(store, ["hello-world", "mine/app:v2"], str(out))
    with tarfile.open(out) as tf:
        names = set(tf.getnames())
        manifest = json.load(tf.extractfile("manifest.json"))
        index = json.load(tf.extractfile("index.json"))
    assert {"manifest.json", "index.json", "oci-layout"} <= names
    assert [m["RepoTags"] for m in manifest] == [["hello-world:latest"], ["mine/app:v2"]]
    assert index["manifests"][1]["annotations"]["io.containerd.image.name"] == "docker.io/mine/app:v2"
    other = open_store(tmp_path / "other")
    loaded = archives.load(other, str(out))
    assert _ids(loaded) == _ids(originals)
    assert other.resolve("mine/app:v2").id == originals[1].id
    assert open(other.resolve("hello-world").layer_dirs[0] + "/hello", "rb").read()[:4] == b"\x7fELF"


def test_save_to_a_stream_and_gzip_load(store, tmp_path):
    import gzip

    img = store.resolve("hello-world")
    buf = io.BytesIO()
    archives.save(store, [img.id[7:19]], buf)
    other = open_store(tmp_path / "other")
    (loaded,) = archives.load(other, io.BytesIO(gzip.compress(buf.getvalue())))
    assert loaded.id == img.id


def test_legacy_docker_archive_loads(store):
    data = make_docker_archive([make_tar([("x", "file", "1")])], ["legacy:1"])
    (img,) = archives.load(store, io.BytesIO(data))
    assert img.repo_tags == ["legacy:1"]


def test_legacy_archive_with_a_layer_linked_to_another_loads(store):
    """Old docker save wrote a layer used twice once, the second as a symlink to the first."""
    layer = make_tar([("x", "file", "1")])
    data = make_docker_archive([layer, layer], ["twice:1"])
    buf = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(data)) as src, tarfile.open(fileobj=buf, mode="w") as dst:
        for m in src.getmembers():
            if m.name == f"{1:064d}/layer.tar":
                link = tarfile.TarInfo(m.name)
                link.type, link.linkname = tarfile.SYMTYPE, f"../{0:064d}/layer.tar"
                dst.addfile(link)
            else:
                dst.addfile(m, src.extractfile(m))
    (img,) = archives.load(store, io.BytesIO(buf.getvalue()))
    assert len(img.diff_ids) == 2 and img.diff_ids[0] == img.diff_ids[1]
    assert len(img.layer_dirs) == 1  # overlayfs refuses a lower dir twice; the top copy is enough


def test_layer_that_lies_about_its_digest_is_refused(store):
    good_layer, bad_layer = make_tar([("x", "file", "1")]), make_tar([("x", "file", "2")])
    data = make_docker_archive([good_layer], ["liar:1"]).replace(good_layer, bad_layer)
    store.resolve("hello-world")
    before = store_state(store)
    with pytest.raises(Exception, match="digest mismatch"):
        archives.load(store, io.BytesIO(data))
    assert store_state(store) == before


def test_archive_that_points_outside_itself_is_refused(store, tmp_path):
    layout = tmp_path / "layout"
    layout.mkdir()
    (layout / "manifest.json").write_text(json.dumps([{"Config": "../../etc/passwd", "Layers": []}]))
    with pytest.raises(archives.BadArchive, match="outside"):
        archives.load(store, str(layout))


def test_not_an_archive(store, tmp_path):
    with pytest.raises(archives.BadArchive):
        archives.load(store, io.BytesIO(make_tar([("hello", "file", "x")])))


def _skopeo(*args):
    subprocess.run(["skopeo", *args], check=True, capture_output=True, timeout=60)


@pytest.mark.skopeo
def test_skopeo_reads_what_we_save(store, tmp_path):
    img = store.resolve("hello-world")
    out = tmp_path / "hw.tar"
    archives.save(store, ["hello-world"], str(out))
    seen = json.loads(subprocess.run(["skopeo", "inspect", f"docker-archive:{out}"], check=True,
                                     capture_output=True, text=True, timeout=60).stdout)
    assert seen["Layers"] == img.diff_ids
    raw = subprocess.run(["skopeo", "inspect", "--config", "--raw", f"docker-archive:{out}"], check=True,
                         capture_output=True, timeout=60).stdout
    assert "sha256:" + __import__("hashlib").sha256(raw).hexdigest() == img.id
    # the same file is also a valid OCI image layout (docker 25+ writes both views)
    raw = subprocess.run(["skopeo", "inspect", "--config", "--raw", f"oci-archive:{out}:latest"], check=True,
                         capture_output=True, timeout=60).stdout
    assert "sha256:" + __import__("hashlib").sha256(raw).hexdigest() == img.id


@pytest.mark.skopeo
@pytest.mark.busybox
def test_oci_layouts_made_by_skopeo_load_with_the_same_ids(store, tmp_path):
    bb, hw = store.resolve("busybox"), store.resolve("hello-world")
    out = tmp_path / "both.tar"
    archives.save(store, ["busybox", "hello-world"], str(out))
    # an OCI directory (plain layers), an OCI archive with gzip layers, and a skopeo docker-archive
    _skopeo("copy", f"docker-archive:{out}:busybox:latest", f"oci:{tmp_path / 'ocidir'}:busybox")
    _skopeo("copy", "--dest-compress", f"docker-archive:{out}:hello-world:latest",
            f"oci-archive:{tmp_path / 'oci.tar'}:docker.io/library/hello-world:latest")
    _skopeo("copy", f"docker-archive:{out}:hello-world:latest",
            f"docker-archive:{tmp_path / 'skopeo-docker.tar'}:hello-world:latest")
    other = open_store(tmp_path / "other")
    (a,) = archives.load(other, str(tmp_path / "ocidir"))
    (b,) = archives.load(other, str(tmp_path / "oci.tar"))
    (c,) = archives.load(other, str(tmp_path / "skopeo-docker.tar"))
    assert a.id == bb.id and b.id == hw.id and c.id == hw.id
    assert b.repo_tags == ["hello-world:latest"] and c.repo_tags == ["hello-world:latest"]
    assert a.repo_tags == []  # skopeo's oci:DIR:busybox names only a tag, not a repository
