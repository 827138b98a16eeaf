"""``--storage-opt size=`` (issue 10, "disk"): where the filesystem cannot cap a container's writable
layer (overlay on ext4 here: no project quotas), one clear line, exit 125, and nothing created."""

from __future__ import annotations

import subprocess

import pytest

from runtime.containers import storage
from runtime.errors import VmvcError
from tests.robustness.conftest import REAL

pytestmark = REAL


def test_storage_opt_size_is_refused_with_the_reason(vmvc, engine):
    fstype = subprocess.run(["stat", "-f", "-c", "%T", engine.root], capture_output=True, text=True).stdout
    r = vmvc("run", "--rm", "--storage-opt", "size=1G", "busybox", "true")
    assert r.returncode == 125
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "supported only for overlay over xfs with 'pquota'" in r.stderr
    if fstype.strip().startswith("ext"):
        assert "ext4 at" in r.stderr and "has no project quotas" in r.stderr
    assert vmvc("ps", "-a", "-q").stdout == ""
    for bad, message in (("foo=1", "the only option is size"), ("size=12x", "invalid size"),
                         ("size", "key=value")):
        r = vmvc("create", "--storage-opt", bad, "busybox")
        assert r.returncode == 125 and message in r.stderr, r.stderr
    assert vmvc("ps", "-a", "-q").stdout == ""


def test_parse_and_filesystem():
    assert storage.parse(["size=10G"]) == {"size": 10 << 30}
    with pytest.raises(VmvcError):
        storage.parse(["inodes=5"])
    point, fstype, _ = storage.filesystem("/proc/self")
    assert (point, fstype) == ("/proc", "proc")
