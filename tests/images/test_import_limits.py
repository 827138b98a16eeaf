"""Import limits (issue 10, "disk"): a decompression bomb, an oversized stream or a nearly full disk is
refused with one line, exit 125, and leaves no image, no staging file and nothing else behind."""

from __future__ import annotations

import gzip
import io
import os
import tarfile

import pytest

from runtime.images import limits
from tests.images.helpers import make_docker_archive, make_tar
from tests.robustness.cli import vmvc

ZEROS = 100 << 20  # gzip -1 makes ~450 KB of these: over 200x


def _zero_tar(path: str, size: int = ZEROS) -> None:
    """A gzip'd tar holding one file of ``size`` zero bytes, written without holding it in memory."""

    class Zeros(io.RawIOBase):
        left = size

        def readable(self):
            return True

        def readinto(self, b):
            n = min(len(b), self.left)
            b[:n] = bytes(n)
            self.left -= n
            return n

    with gzip.open(path, "wb", compresslevel=1) as gz, tarfile.open(fileobj=gz, mode="w|") as tf:
        info = tarfile.TarInfo("zeros")
        info.size = size
        tf.addfile(info, io.BufferedReader(Zeros(), 1 << 20))


def _nothing_left(store) -> None:
    assert vmvc("images", "-q").stdout == ""
    assert os.listdir(store.tmp) == [] and os.listdir(store.layers) == []


def test_a_gzip_bomb_is_refused_on_import(store, tmp_path, no_leaks):
    bomb = str(tmp_path / "bomb.tar.gz")
    _zero_tar(bomb)
    assert os.path.getsize(bomb) < 1 << 20
    r = vmvc("import", bomb, "bomb:1")
    assert r.returncode == 125
    assert len(r.stderr.strip().splitlines()) == 1 and "decompression bomb" in r.stderr, r.stderr
    _nothing_left(store)


def test_a_gzip_bomb_is_refused_on_load(store, tmp_path, no_leaks):
    layer = make_tar([("etc", "dir"), ("etc/a", "file", "x")])
    inner = make_docker_archive([layer], ["fine:1"])
    bomb = str(tmp_path / "archive.tar.gz")
    with gzip.open(bomb, "wb", compresslevel=1) as gz:  # the archive itself, then 100 MiB of zeros
        gz.write(inner)
        gz.write(bytes(ZEROS))
    r = vmvc("load", "-i", bomb)
    assert r.returncode == 125 and "decompression bomb" in r.stderr, r.stderr
    _nothing_left(store)


def test_the_total_size_limit(store, tmp_path, monkeypatch, no_leaks):
    path = tmp_path / "big.tar"
    path.write_bytes(make_tar([("blob", "file", os.urandom(3 << 20))]))
    monkeypatch.setenv("VMVC_IMPORT_MAX_BYTES", str(1 << 20))
    r = vmvc("import", str(path))
    assert r.returncode == 125 and "more than 1.0 MiB uncompressed" in r.stderr, r.stderr
    _nothing_left(store)
    monkeypatch.setenv("VMVC_IMPORT_MAX_BYTES", "lots")
    r = vmvc("import", str(path))
    assert r.returncode == 125 and "VMVC_IMPORT_MAX_BYTES='lots' is not a number" in r.stderr


def test_an_import_stops_before_the_disk_is_full(store, tmp_path, monkeypatch):
    from runtime.errors import VmvcError

    st = os.statvfs(store.root)
    monkeypatch.setattr(limits, "RESERVE_MIN", st.f_bavail * st.f_frsize + (1 << 30))  # "nearly full"
    with pytest.raises(limits.ImportLimit, match="left free on the filesystem"):
        store.import_tar(io.BytesIO(make_tar([("a", "file", "x")])), "full:1")
    assert store.images() == [] and os.listdir(store.tmp) == []
    assert issubclass(limits.ImportLimit, VmvcError)
