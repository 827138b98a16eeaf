"""The store's lookup API the container engine relies on (resolve, names, ids, holds)."""

import io
import os
import subprocess

import pytest

from runtime.errors import NotFound, VmvcError
from runtime.images import Image, open_store, reference
from tests.images.helpers import make_tar


def test_names_normalise_like_docker():
    assert reference.normalise("busybox") == "docker.io/library/busybox:latest"
    assert reference.normalise("busybox:1.36") == "docker.io/library/busybox:1.36"
    assert reference.normalise("me/app") == "docker.io/me/app:latest"
    assert reference.normalise("localhost:5000/app:v1") == "localhost:5000/app:v1"
    assert reference.normalise("quay.io/a/b") == "quay.io/a/b:latest"
    assert reference.familiar("docker.io/library/busybox:latest") == "busybox:latest"
    assert reference.familiar("docker.io/me/app:latest") == "me/app:latest"
    with pytest.raises(VmvcError):
        reference.normalise("Busybox")
    with pytest.raises(VmvcError):
        reference.normalise("a:b:c")


def test_store_root_follows_vmvc_root(vmvc_root):
    assert open_store().root == str(vmvc_root / "images")


def test_unknown_image_is_not_found(store):
    with pytest.raises(NotFound, match=r"^No such image: foo:latest$"):
        store.resolve("foo")
    with pytest.raises(NotFound):
        store.resolve("sha256:" + "0" * 64)


@pytest.mark.busybox
def test_builtins_are_created_on_first_resolve(store):
    img = store.resolve("busybox")
    assert isinstance(img, Image)
    assert img.id.startswith("sha256:") and len(img.id) == 71
    assert img.name == "docker.io/library/busybox:latest"
    assert img.repo_tags == ["busybox:latest"]
    assert img.config["Cmd"] == ["sh"]
    (top,) = img.layer_dirs
    assert os.path.isabs(top)
    assert os.path.islink(top + "/bin") is False
    assert os.stat(top + "/bin/ls").st_ino == os.stat(top + "/bin/busybox").st_ino
    assert oct(os.stat(top + "/tmp").st_mode & 0o7777) == "0o1777"
    for d in ("proc", "sys", "dev", "etc"):
        assert os.path.isdir(os.path.join(top, d))
    assert img.size > 1_000_000
    # the same object comes back for every spelling of the name and id
    spellings = ("busybox:latest", "docker.io/library/busybox", img.id, img.id[7:19],
                 "sha256:" + img.id[7:15])
    for ref in spellings:
        assert store.resolve(ref).id == img.id


def test_hello_world_is_tiny_and_runs_on_the_host(store):
    img = store.resolve("hello-world")
    assert img.config["Cmd"] == ["/hello"]
    program = os.path.join(img.layer_dirs[0], "hello")
    assert os.path.getsize(program) < 4096
    done = subprocess.run([program], capture_output=True, text=True, timeout=10)
    assert done.returncode == 0
    assert "Hello from vmvc!" in done.stdout
    assert "namespaces" in done.stdout and "kernel" in done.stdout


def test_builtin_ids_are_stable(vmvc_root, tmp_path):
    first = open_store().resolve("hello-world").id
    second = open_store(tmp_path / "other").resolve("hello-world").id
    assert first == second


def test_import_rootfs_as_one_layer_image(store, tmp_path):
    tar = tmp_path / "rootfs.tar"
    tar.write_bytes(make_tar([("etc", "dir"), ("etc/os-release", "file", "NAME=test\n"),
                              ("bin", "dir"), ("bin/sh", "symlink", "/bin/busybox")]))
    img = store.import_tar(str(tar), "myroot:v1")
    assert img.repo_tags == ["myroot:v1"]
    assert store.resolve("myroot:v1").id == img.id
    with pytest.raises(NotFound):
        store.resolve("myroot")  # :latest was not given
    (top,) = img.layer_dirs
    assert open(os.path.join(top, "etc/os-release")).read() == "NAME=test\n"
    assert os.readlink(os.path.join(top, "bin/sh")) == "/bin/busybox"
    assert img.config["Env"][0].startswith("PATH=")


def test_import_accepts_gzip_streams(store):
    import gzip

    data = gzip.compress(make_tar([("a", "file", "x")]))
    img = store.import_tar(io.BytesIO(data), "zipped")
    assert open(os.path.join(img.layer_dirs[0], "a")).read() == "x"


def test_hold_and_release(store):
    img = store.resolve("hello-world")
    store.hold(img.id, "c1")
    store.hold(img.id, "c2")
    assert store.holders(img.id) == ["c1", "c2"]
    store.release(img.id, "c1")
    store.release(img.id, "c1")  # idempotent
    assert store.holders(img.id) == ["c2"]


def test_index_is_reloaded_when_another_process_writes(store, tmp_path):
    other = type(store)(store.root)  # a second store object = another process's view
    tar = tmp_path / "r.tar"
    tar.write_bytes(make_tar([("f", "file", "1")]))
    other.import_tar(str(tar), "fromother")
    assert store.resolve("fromother").repo_tags == ["fromother:latest"]


def test_every_index_generation_has_a_newer_mtime(store):
    """Readers cache the index by (inode, mtime, size): generations must never share a key."""
    seen = []
    for i in range(5):
        store.import_tar(io.BytesIO(make_tar([("f", "file", str(i))])), f"gen:{i}")
        seen.append(os.stat(os.path.join(store.root, "index.json")).st_mtime_ns)
    assert seen == sorted(set(seen))
