"""OCI whiteouts and opaque directories, proven through a mounted three-layer image."""

import io
import os

import pytest

from runtime.images import archives
from runtime.images.overlay import mount_overlay
from tests.images.helpers import in_mount_ns, make_docker_archive, make_tar, tree

BOTTOM = make_tar([("a", "dir"), ("a/x", "file", "x1"), ("a/y", "file", "y1"), ("b", "dir"),
                   ("b/old1", "file", "o1"), ("b/sub", "dir"), ("b/sub/old2", "file", "o2"),
                   ("c", "dir"), ("c/gone", "dir"), ("c/gone/deep", "file", "d"), ("keep", "file", "k1")])
MIDDLE = make_tar([("a", "dir"), ("a/.wh.x", "file"),              # delete a/x
                   ("b", "dir"), ("b/.wh..wh..opq", "file"), ("b/new", "file", "n2"),  # b is now only new
                   ("c", "dir"), ("c/.wh.gone", "file"),           # delete a whole directory
                   ("keep", "file", "k2")])                        # plain overwrite
TOP = make_tar([("a", "dir"), ("a/x", "file", "x3"),               # re-create what the middle deleted
                ("c", "dir"), ("c/gone", "file", "now a file")])

EXPECTED = {"a": "dir", "a/x": "x3", "a/y": "y1", "b": "dir", "b/new": "n2", "c": "dir",
            "c/gone": "now a file", "keep": "k2"}


def _view(sys_, lowers, upper, work, target):
    mount_overlay(sys_, lowers, upper, work, target)
    return tree(target)


@pytest.mark.overlay
def test_mounted_image_shows_exactly_the_layered_result(store, tmp_path, no_leaks):
    (img,) = archives.load(store, io.BytesIO(make_docker_archive([BOTTOM, MIDDLE, TOP], ["layered:1"])))
    assert len(img.layer_dirs) == 3
    for d in ("upper", "work", "rootfs"):
        (tmp_path / d).mkdir()
    assert in_mount_ns(_view, img.layer_dirs, str(tmp_path / "upper"), str(tmp_path / "work"),
                       str(tmp_path / "rootfs")) == EXPECTED
    # and read-only, with no upper at all
    assert in_mount_ns(_view, img.layer_dirs, None, None, str(tmp_path / "rootfs")) == EXPECTED


@pytest.mark.root
def test_whiteouts_are_stored_the_way_overlayfs_reads_them(store):
    (img,) = archives.load(store, io.BytesIO(make_docker_archive([BOTTOM, MIDDLE], ["wh:1"])))
    middle = img.layer_dirs[0]
    st = os.lstat(os.path.join(middle, "a/x"))
    assert os.major(st.st_rdev) == 0 and os.minor(st.st_rdev) == 0 and (st.st_mode & 0o170000) == 0o020000
    assert os.getxattr(os.path.join(middle, "b"), "trusted.overlay.opaque") == b"y"
    assert not any(n.startswith(".wh.") for _, ds, fs in os.walk(middle) for n in ds + fs)


@pytest.mark.overlay
def test_a_layer_repeated_higher_up_mounts_and_wins(store, tmp_path, no_leaks):
    (img,) = archives.load(store, io.BytesIO(make_docker_archive([BOTTOM, MIDDLE, BOTTOM], ["again:1"])))
    assert len(img.layer_dirs) == 2
    (tmp_path / "rootfs").mkdir()
    expected = {"a": "dir", "a/x": "x1", "a/y": "y1", "b": "dir", "b/old1": "o1", "b/sub": "dir",
                "b/sub/old2": "o2", "b/new": "n2", "c": "dir", "c/gone": "dir", "c/gone/deep": "d",
                "keep": "k1"}
    assert in_mount_ns(_view, img.layer_dirs, None, None, str(tmp_path / "rootfs")) == expected
