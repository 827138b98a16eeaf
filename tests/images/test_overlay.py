"""Overlay mounts of image layers: the mount plan (fake syscalls) and real mounts (private namespace)."""

import os

import pytest

from runtime.images.overlay import MAX_DATA, mount_overlay
from runtime.linux.fake import FakeSyscalls
from runtime.linux.syscalls import MS_BIND, MS_RDONLY, MS_REMOUNT
from tests.images.helpers import in_mount_ns, make_tar


def test_short_list_is_one_overlay_mount():
    fake = FakeSyscalls()
    data = mount_overlay(fake, ["/l/top", "/l/bottom"], "/c/upper", "/c/work", "/c/rootfs")
    assert fake.calls == [("mount", "overlay", "/c/rootfs", "overlay", 0, data)]
    assert data == "lowerdir=/l/top:/l/bottom,upperdir=/c/upper,workdir=/c/work"


def test_long_list_goes_through_short_links_that_are_removed(tmp_path):
    lowers = [str(tmp_path / f"layer-{i:060d}") for i in range(120)]
    for d in lowers:
        os.mkdir(d)
    (tmp_path / "c").mkdir()
    fake = FakeSyscalls()
    cwd = os.getcwd()
    data = mount_overlay(fake, lowers, str(tmp_path / "c/upper"), str(tmp_path / "c/work"), "rootfs")
    assert len(data) <= MAX_DATA
    assert data.startswith("lowerdir=0:1:2:")
    (call,) = fake.calls
    assert call[2] == os.path.join(cwd, "rootfs")  # relative target resolved before the chdir
    assert os.getcwd() == cwd
    assert os.listdir(tmp_path / "c") == []  # the link dir is gone


def test_single_layer_without_upper_is_a_read_only_bind():
    fake = FakeSyscalls()
    mount_overlay(fake, ["/l/only"], None, None, "/mnt/x")
    assert [c[0] for c in fake.calls] == ["mount", "mount"]
    assert fake.calls[0][4] & MS_BIND
    assert fake.calls[1][4] & (MS_REMOUNT | MS_RDONLY) == MS_REMOUNT | MS_RDONLY


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        mount_overlay(FakeSyscalls(), [], "/u", "/w", "/t")
    with pytest.raises(ValueError):
        mount_overlay(FakeSyscalls(), ["/a"], "/u", None, "/t")


def _mount_and_look(sys_, lowers, upper, work, target):
    mount_overlay(sys_, lowers, upper, work, target)
    seen = sorted(os.listdir(target))
    with open(os.path.join(target, "written-in-container"), "w") as f:
        f.write("hi")
    return seen


@pytest.mark.overlay
@pytest.mark.busybox
def test_busybox_image_mounts_and_writes_go_to_the_upper(store, tmp_path, no_leaks):
    img = store.resolve("busybox")
    c = tmp_path / "vmvc-c1"
    for d in ("upper", "work", "rootfs"):
        (c / d).mkdir(parents=True)
    seen = in_mount_ns(_mount_and_look, img.layer_dirs, str(c / "upper"), str(c / "work"), str(c / "rootfs"))
    assert {"bin", "etc", "proc", "sys", "dev", "tmp"} <= set(seen)
    assert (c / "upper/written-in-container").read_text() == "hi"
    assert not os.path.exists(os.path.join(img.layer_dirs[0], "written-in-container"))


def _read_all(sys_, lowers, upper, work, target):
    mount_overlay(sys_, lowers, upper, work, target)
    return sorted(os.listdir(target))


@pytest.mark.overlay
def test_long_lowerdir_lists_really_mount(tmp_path, no_leaks):
    lowers = []
    for i in range(150):  # 150 x ~100-byte paths: far over the page-size limit
        d = tmp_path / f"vmvc-layer-{i:080d}"
        d.mkdir()
        (d / f"file{i}").write_text(str(i))
        lowers.append(str(d))
    for d in ("upper", "work", "rootfs"):
        (tmp_path / d).mkdir()
    seen = in_mount_ns(_read_all, lowers[::-1], str(tmp_path / "upper"), str(tmp_path / "work"),
                       str(tmp_path / "rootfs"))
    assert seen == sorted(f"file{i}" for i in range(150))
    seen = in_mount_ns(_read_all, lowers[::-1], None, None, str(tmp_path / "rootfs"))  # read-only view
    assert len(seen) == 150


@pytest.mark.overlay
def test_single_layer_read_only_view(store, tmp_path, no_leaks):
    tar = tmp_path / "one.tar"
    tar.write_bytes(make_tar([("hello.txt", "file", "hi")]))
    img = store.import_tar(str(tar), "one")
    (tmp_path / "view").mkdir()

    def look(sys_, lowers, target):
        mount_overlay(sys_, lowers, None, None, target)
        try:
            open(os.path.join(target, "new"), "w")
        except OSError as e:
            return [sorted(os.listdir(target)), e.errno]
        return [sorted(os.listdir(target)), 0]

    listing, err = in_mount_ns(look, img.layer_dirs, str(tmp_path / "view"))
    assert listing == ["hello.txt"]
    assert err == 30  # EROFS


def test_a_failed_long_mount_still_cleans_up(tmp_path):
    import errno

    lowers = [str(tmp_path / f"layer-{i:060d}") for i in range(80)]
    for d in lowers:
        os.mkdir(d)
    (tmp_path / "c").mkdir()
    cwd = os.getcwd()
    with pytest.raises(OSError):
        mount_overlay(FakeSyscalls(fail={"mount": errno.EINVAL}), lowers, str(tmp_path / "c/upper"),
                      str(tmp_path / "c/work"), str(tmp_path / "c/rootfs"))
    assert os.getcwd() == cwd and os.listdir(tmp_path / "c") == []
