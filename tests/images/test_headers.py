"""The fast header decoder builds exactly the TarInfo tarfile would, and refuses ambiguous headers."""

import io
import os
import subprocess
import tarfile

import pytest

from runtime.images import layers
from tests.images.helpers import make_tar

STDLIB = os.path.dirname(os.__file__)  # this interpreter's standard library, wherever it lives
FIELDS = ("name", "mode", "uid", "gid", "size", "mtime", "chksum", "type", "linkname", "uname", "gname",
          "devmajor", "devminor")


def _blocks(data: bytes):
    """Every header block of an archive (as tarfile finds them)."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tf:
        offsets = [m.offset_data - 512 for m in tf.getmembers()]  # the member's own header, after any pax
    for off in offsets:
        yield data[off:off + 512]


@pytest.mark.parametrize("fmt", ["gnu", "posix", "ustar"])
def test_same_result_as_tarfile_on_real_gnu_tar_output(fmt):
    data = subprocess.run(["tar", "-c", f"--format={fmt}", "-C", STDLIB, "json", "email", "-C", "/", "bin/sh",
                           "dev/null"], capture_output=True, check=True, timeout=60).stdout
    compared = 0
    for block in _blocks(data):
        if block[156:157] in (b"x", b"g", b"L", b"K"):
            continue
        ours = layers.LimitedTarInfo.frombuf(block, "utf-8", "surrogateescape")
        theirs = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        assert [getattr(ours, f) for f in FIELDS] == [getattr(theirs, f) for f in FIELDS]
        compared += 1
    assert compared > 50


def test_base256_and_odd_numbers_fall_back_to_tarfile():
    info = tarfile.TarInfo("big")
    info.uid = 8 ** 8 + 5  # too big for octal: GNU base-256
    block = info.tobuf(format=tarfile.GNU_FORMAT)
    ours = layers.LimitedTarInfo.frombuf(block, "utf-8", "surrogateescape")
    assert ours.uid == 8 ** 8 + 5


def test_prefix_in_a_gnu_header_is_refused(store):
    data = bytearray(make_tar([("lnk", "symlink", "/"), ("lnk/etc/shadow", "file", "x")],
                              fmt=tarfile.GNU_FORMAT))
    # Put "safe" in the prefix field of the second header and fix its checksum: tarfile would read
    # "safe/lnk/etc/shadow", GNU tar "lnk/etc/shadow" (through the symlink).
    second = 512
    data[second + 345:second + 349] = b"safe"
    data[second + 148:second + 156] = b" " * 8
    data[second + 148:second + 156] = b"%06o\0 " % sum(data[second:second + 512])
    with pytest.raises(layers.UnsafeArchive, match="ambiguous header"):
        store.import_tar(io.BytesIO(bytes(data)), "ambiguous")
    assert store.images() == []
