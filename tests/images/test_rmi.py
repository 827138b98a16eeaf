"""rmi and prune: docker's rules for tags, ids and images in use; shared layers survive."""

import io
import os

import pytest

from runtime.errors import Conflict, NotFound
from tests.images.helpers import make_docker_archive, make_tar

BASE = make_tar([("base", "file", "shared bytes")])


def _two_images_sharing_a_layer(store):
    from runtime.images import archives

    (a,) = archives.load(store, io.BytesIO(make_docker_archive([BASE, make_tar([("a", "file", "1")])],
                                                               ["app-a:1"], cmd=["a"])))
    (b,) = archives.load(store, io.BytesIO(make_docker_archive([BASE, make_tar([("b", "file", "2")])],
                                                               ["app-b:1"], cmd=["b"])))
    return a, b


def test_shared_layer_is_stored_once_and_survives_removal_of_one_image(store):
    a, b = _two_images_sharing_a_layer(store)
    assert a.layer_dirs[-1] == b.layer_dirs[-1]
    assert len(os.listdir(store.layers)) == 3
    usage = store.disk_usage()
    assert usage["SharedSavings"] == len("shared bytes")
    assert store.remove("app-a:1") == [{"Untagged": "app-a:1"}, {"Deleted": a.id}]
    assert os.path.isdir(b.layer_dirs[-1]) and not os.path.exists(a.layer_dirs[0])
    assert not os.path.exists(store.blob_path(a.id))
    assert os.listdir(store.tmp) == []


def test_rmi_refuses_while_a_container_holds_the_image(store):
    img = store.resolve("hello-world")
    store.hold(img.id, "c0ffee")
    with pytest.raises(Conflict, match="c0ffee"):
        store.remove("hello-world")
    assert store.find("hello-world").id == img.id
    # forced: untagged like docker, but the layers stay while the container runs
    assert store.remove("hello-world", force=True) == [{"Untagged": "hello-world:latest"}]
    assert os.path.isdir(img.layer_dirs[0])
    store.release(img.id, "c0ffee")
    assert store.prune()["ImagesDeleted"] == [{"Deleted": img.id}]
    assert not os.path.exists(img.layer_dirs[0])


def test_rmi_of_one_tag_only_untags(store):
    img = store.resolve("hello-world")
    store.tag("hello-world", "hi:v1")
    assert store.remove("hi:v1") == [{"Untagged": "hi:v1"}]
    assert store.resolve("hello-world").id == img.id
    store.tag("hello-world", "hi:v1")
    with pytest.raises(Conflict, match="multiple repositories"):
        store.remove(img.id)
    out = store.remove(img.id[7:19], force=True)
    assert out[-1] == {"Deleted": img.id} and len(out) == 3


def test_rmi_unknown(store):
    with pytest.raises(NotFound, match="No such image: nope:latest"):
        store.remove("nope")


def test_retag_leaves_the_old_image_dangling_and_prune_removes_it(store):
    first = store.import_tar(io.BytesIO(make_tar([("v", "file", "1")])), "app")
    second = store.import_tar(io.BytesIO(make_tar([("v", "file", "2")])), "app")
    assert store.resolve("app").id == second.id
    assert store.find(first.id).tags == []
    result = store.prune()
    assert result["ImagesDeleted"] == [{"Deleted": first.id}] and result["SpaceReclaimed"] > 0
    assert store.find(first.id) is None and store.find("app").id == second.id
