"""runtime.linux.safefs: trees and files of any shape are read, walked and deleted without harm."""

from __future__ import annotations

import os
import sys
import tempfile

import pytest

from runtime.linux import safefs


def _deep(base: str, depth: int) -> None:
    """A ``depth``-deep chain d/d/d/... built with relative opens (its paths exceed PATH_MAX)."""
    os.mkdir(base)
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    for i in range(depth):
        os.mkdir("d", dir_fd=fd)
        if i % 500 == 0:
            os.close(os.open("f", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
        child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = child
    os.mkfifo("fifo", dir_fd=fd)
    os.symlink("/etc", "etc-link", dir_fd=fd)
    os.close(fd)


@pytest.fixture
def shm():
    """A directory on tmpfs: ext4 here takes ~3 ms per rmdir, tmpfs microseconds."""
    path = tempfile.mkdtemp(prefix="vmvc-test-safefs-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    yield path
    safefs.rmtree(path)


def test_a_tree_deeper_than_recursion_and_path_max_is_walked_and_removed(shm):
    base = os.path.join(shm, "deep")
    _deep(base, 2500)  # shutil.rmtree, which the janitor used, crashed on this before Python 3.13
    assert 2500 > sys.getrecursionlimit()  # deeper than a recursive walk can go
    with pytest.raises(OSError, match="too long"):
        os.lstat(os.path.join(base, *["d"] * 2500))  # and than PATH_MAX: only relative opens reach it
    entries = list(safefs.walk(base, paths=False))
    assert len(entries) == 2500 + 5 + 2  # every level, its 5 files, the FIFO and the symlink
    assert safefs.disk_usage(base) >= 0  # completes (tmpfs allocates no blocks for dirs)
    safefs.rmtree(base)
    assert not os.path.lexists(base)
    assert os.path.isdir("/etc")  # the symlink was not followed


def test_walk_gives_relative_paths_and_never_follows_symlinks(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "f").write_text("x")
    (tmp_path / "a" / "up").symlink_to("/")
    rels = sorted(rel for rel, _ in safefs.walk(str(tmp_path / "a")))
    assert rels == ["b", "b/f", "up"]


def test_read_file_refuses_fifos_devices_and_big_files_without_blocking(tmp_path):
    fifo = tmp_path / "passwd"
    os.mkfifo(fifo)  # no writer: a plain open() would block forever
    with pytest.raises(safefs.NotRegular, match="FIFO"):
        safefs.read_file(str(fifo), 1 << 20)
    with pytest.raises(safefs.NotRegular, match="character device"):
        safefs.read_file("/dev/zero", 1 << 20)
    big = tmp_path / "big"
    big.write_bytes(b"x" * 100)
    with pytest.raises(safefs.TooLarge):
        safefs.read_file(str(big), 99)
    assert safefs.read_file(str(big), 100) == b"x" * 100
    link = tmp_path / "link"
    link.symlink_to(big)
    with pytest.raises(OSError):
        safefs.read_file(str(link), 100, follow=False)


def test_rmtree_of_a_file_a_symlink_or_nothing(tmp_path):
    target = tmp_path / "keep"
    target.mkdir()
    (target / "x").write_text("x")
    link = tmp_path / "link"
    link.symlink_to(target)
    safefs.rmtree(str(link))
    assert not link.exists() and (target / "x").exists()
    safefs.rmtree(str(tmp_path / "missing"))
    f = tmp_path / "f"
    f.write_text("x")
    safefs.rmtree(str(f))
    assert not f.exists()


def test_open_beneath_stays_inside_and_refuses_symlinks_and_fifos(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("ok")
    (tmp_path / "up").symlink_to("/etc")
    os.mkfifo(tmp_path / "d" / "fifo")
    assert safefs.open_beneath(str(tmp_path), "d/f").read() == b"ok"
    for bad in ("../x", "/etc/passwd", "up/passwd", "d/fifo", ""):
        with pytest.raises(OSError):
            safefs.open_beneath(str(tmp_path), bad)
    with safefs.Beneath(str(tmp_path)) as beneath:  # the cached parent fd serves the next file too
        assert beneath.open("d/f").read() == b"ok" and beneath.open("./d//f").read() == b"ok"
