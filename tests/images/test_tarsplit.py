"""Layers keep headers only (tar-split); save rebuilds every layer tar byte for byte."""

import hashlib
import io
import os
import subprocess
import tarfile

import pytest

from runtime.errors import VmvcError
from runtime.images import archives
from tests.images.helpers import make_tar


def _saved_layer(store, ref, tmp_path) -> bytes:
    out = tmp_path / "saved.tar"
    archives.save(store, [ref], str(out))
    img = store.resolve(ref)
    with tarfile.open(out) as tf:
        return tf.extractfile("blobs/sha256/" + img.diff_ids[0][7:]).read()


@pytest.mark.parametrize("fmt", ["gnu", "posix", "ustar"])
def test_gnu_tar_layers_come_back_byte_for_byte(store, tmp_path, fmt):
    src = tmp_path / "layer.tar"
    stdlib = os.path.dirname(os.__file__)  # this interpreter's, wherever it lives
    subprocess.run(["tar", "-c", f"--format={fmt}", "-f", str(src), "-C", stdlib, "email", "json"],
                   check=True, timeout=120)
    original = src.read_bytes()
    img = store.import_tar(str(src), "exact")
    assert not os.path.exists(store.blob_path(img.diff_ids[0]))        # no second copy of the contents
    skeleton = os.path.getsize(store.tarsplit_path(img.diff_ids[0]))
    assert skeleton < len(original) / 3
    assert _saved_layer(store, "exact", tmp_path) == original


def test_a_path_repeated_in_the_archive_keeps_the_whole_tar(store, tmp_path):
    data = make_tar([("f", "file", "first"), ("f", "file", "second")])
    img = store.import_tar(io.BytesIO(data), "twice")
    assert os.path.exists(store.blob_path(img.diff_ids[0]))
    assert not os.path.exists(store.tarsplit_path(img.diff_ids[0]))
    assert _saved_layer(store, "twice", tmp_path) == data


def test_a_layer_changed_on_disk_is_not_exported(store, tmp_path):
    img = store.import_tar(io.BytesIO(make_tar([("f", "file", "original")])), "tampered")
    with open(os.path.join(img.layer_dirs[0], "f"), "w") as f:
        f.write("evil!!!!")  # same size, other bytes
    out = tmp_path / "out.tar"
    with pytest.raises(VmvcError, match="changed on disk"):
        archives.save(store, ["tampered"], str(out))
    assert not out.exists() and not [p for p in os.listdir(tmp_path) if p.startswith(".vmvc-save")]


def test_system_df_counts_what_is_kept_for_save(store):
    data = make_tar([("big", "file", os.urandom(200_000))])
    img = store.import_tar(io.BytesIO(data), "big")
    usage = store.disk_usage()
    assert usage["LayersSize"] == 200_000
    assert usage["BlobsSize"] == os.path.getsize(store.tarsplit_path(img.diff_ids[0])) < 20_000
    assert hashlib.sha256(data).hexdigest() == img.diff_ids[0][7:]
