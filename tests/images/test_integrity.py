"""A damaged image store (issue 10): a broken index is rebuilt, damaged layers are found and refused."""

from __future__ import annotations

import io
import json
import os

import pytest

from runtime.containers.create import create
from runtime.containers.spec import Spec
from runtime.containers.state import Containers
from runtime.errors import VmvcError
from runtime.images import open_store
from tests.images.helpers import make_tar
from tests.robustness.cli import vmvc

TINY = [("bin", "dir"), ("bin/sh", "file", "#!" + "x" * 200), ("etc", "dir"), ("etc/motd", "file", "hi")]


def _listed() -> dict[str, list[str]]:
    r = vmvc("images", "--json")
    assert r.returncode == 0, r.stderr
    return {im["Id"]: sorted(im["RepoTags"] or []) for im in json.loads(r.stdout)}


@pytest.fixture
def two(store):
    a = store.import_tar(io.BytesIO(make_tar(TINY)), "tiny:1")
    b = store.import_tar(io.BytesIO(make_tar([*TINY, ("etc/extra", "file", "more")])), "tiny:2")
    store.tag("tiny:1", "tiny:again")  # one more write: the previous generation knows tiny:2 too
    return a, b


@pytest.mark.parametrize("damage", [b"", b"\xff\xfe garbage", b'{"images": 5}', b"[" * 50000,
                                    b'{"images": {}, "tags": {"x": "sha256:00"}, "layers": {}}'])
def test_a_damaged_index_is_rebuilt_from_the_blobs_with_one_line(store, two, damage):
    a, b = two
    with open(os.path.join(store.root, "index.json"), "wb") as f:
        f.write(damage)
    r = vmvc("images")
    assert r.returncode == 0, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "image index damaged" in lines[0] and "quarantine" in lines[0], r.stderr
    assert _listed() == {a.id: ["tiny:1"], b.id: ["tiny:2"]}  # tags of the generation before
    assert vmvc("images").stderr == ""
    assert os.listdir(os.path.join(store.root, "quarantine"))


def test_without_a_previous_generation_the_images_come_back_untagged(store, two):
    a, b = two
    os.unlink(os.path.join(store.root, "index.prev.json"))
    with open(os.path.join(store.root, "index.json"), "wb") as f:
        f.write(b"{")
    assert _listed() == {a.id: [], b.id: []}
    fresh = open_store(store.root)
    assert fresh.resolve(a.id[7:19]).diff_ids == a.diff_ids
    assert fresh.resolve(a.id).size == a.size  # content size recomputed from the layer dir


def _layer_file(store, image, rel):
    return os.path.join(store.layer_dir(image.diff_ids[-1]), rel)


@pytest.mark.parametrize("damage", ["flip", "truncate", "remove"])
def test_verify_finds_a_damaged_layer_and_create_refuses_it(store, vmvc_root, damage):
    image = store.import_tar(io.BytesIO(make_tar(TINY)), "tiny:1")
    assert vmvc("image", "verify").stdout == "tiny:1: ok (1 layer)\n"
    path = _layer_file(store, image, "bin/sh")
    if damage == "flip":
        with open(path, "r+b") as f:
            f.seek(50)
            f.write(b"y")
    elif damage == "truncate":
        os.truncate(path, 10)
    else:
        os.unlink(path)
    r = vmvc("image", "verify", "tiny:1")
    assert r.returncode == 1
    assert r.stdout.startswith("tiny:1: layer sha256:") and "DAMAGED" in r.stdout, r.stdout
    table = Containers(os.path.join(vmvc_root, "containers"))
    os.makedirs(table.root, exist_ok=True)
    with pytest.raises(VmvcError, match="is damaged .*load or import it again"):
        create(table, Spec("tiny:1", ["/bin/sh"]), open_store())
    assert table.ids() == []


def test_verify_checks_layers_kept_as_whole_tars(store):
    # a path repeated in the archive: the store keeps the whole tar, and the last copy counts
    tar = make_tar([("etc", "dir"), ("etc/a", "file", "first"), ("etc/a", "file", "second")])
    image = store.import_tar(io.BytesIO(tar), "twice:1")
    assert os.path.exists(store.blob_path(image.diff_ids[0]))
    assert store.verify(["twice:1"])[0][1] == {image.diff_ids[0]: None}
    with open(_layer_file(store, image, "etc/a"), "w") as f:
        f.write("SECOND")
    problem = store.verify(["twice:1"])[0][1][image.diff_ids[0]]
    assert problem == "etc/a: content differs"
