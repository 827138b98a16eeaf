"""State-root permissions (issue 10, confinement): no other host user reaches what containers and
images leave on disk: setuid files in upper dirs and layers, records and logs with secrets.

Each check runs the reach attempt as ``nobody`` (``setpriv --reuid 65534``) against a state root
whose parent directory is open to everyone, as ``/var/lib`` is.
"""

from __future__ import annotations

import io
import os
import stat
import subprocess
import tarfile
import tempfile

import pytest

from runtime import paths
from runtime.linux import safefs
from tests.robustness.cli import vmvc
from tests.robustness.conftest import REAL


def as_nobody(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd],
                          capture_output=True, text=True, timeout=30)


def _unreachable(path: str) -> None:
    assert os.path.lexists(path), path  # it is there for root...
    for cmd in (["stat", path], ["cat", path], ["ls", path]):
        r = as_nobody(*cmd)
        assert r.returncode != 0 and "Permission denied" in r.stderr, (cmd, r.stdout, r.stderr)


@pytest.fixture
def open_root(monkeypatch, no_leaks):
    """``$VMVC_ROOT`` inside a world-traversable directory (pytest's own temp dirs are 0700)."""
    base = tempfile.mkdtemp(prefix="vmvc-perm-")
    os.chmod(base, 0o755)
    root = os.path.join(base, "root")
    monkeypatch.setenv("VMVC_ROOT", root)
    yield root
    vmvc("system", "stop")
    safefs.rmtree(base)


def _suid_image(path: str) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, mode, kind, data in ((".", 0o777, tarfile.DIRTYPE, b""),
                                       ("bin", 0o755, tarfile.DIRTYPE, b""),
                                       ("bin/suid", 0o4755, tarfile.REGTYPE, b"#!/bin/sh\nid\n"),
                                       ("open", 0o777, tarfile.DIRTYPE, b"")):
            info = tarfile.TarInfo(name)
            info.mode, info.type, info.size = mode, kind, len(data)
            tf.addfile(info, io.BytesIO(data))
    with open(path, "wb") as f:
        f.write(buf.getvalue())


@pytest.mark.root
def test_an_imported_setuid_file_and_the_index_are_root_only(open_root, tmp_path):
    _suid_image(str(tmp_path / "suid.tar"))
    r = vmvc("import", str(tmp_path / "suid.tar"), "suid:1")
    assert r.returncode == 0, r.stderr
    from runtime.images import open_store

    image = open_store().resolve("suid:1")
    layer = image.layer_dirs[0]
    assert stat.S_IMODE(os.stat(os.path.join(layer, "bin/suid")).st_mode) == 0o4755  # kept, as imported
    assert stat.S_IMODE(os.stat(os.path.join(layer, "open")).st_mode) == 0o777  # the image's own dir
    assert stat.S_IMODE(os.stat(layer).st_mode) == 0o755  # the layer root: normalised, not 0777
    assert stat.S_IMODE(os.stat(open_root).st_mode) == paths.ROOT_MODE
    _unreachable(os.path.join(layer, "bin/suid"))
    _unreachable(os.path.join(open_root, "images", "index.json"))
    _unreachable(os.path.join(open_root, "images"))


def real(test):
    """The engine's capability markers (root, namespaces, overlay, cgroups, busybox)."""
    for mark in REAL:
        test = mark(test)
    return test


@real
def test_a_containers_setuid_file_records_and_logs_are_root_only(open_root):
    r = vmvc("run", "--name", "leaver", "-e", "SECRET=hunter2", "busybox", "sh", "-c",
             "cp /bin/busybox /tmp/suid && chmod 4755 /tmp/suid && echo SECRET=$SECRET")
    assert (r.returncode, r.stdout) == (0, "SECRET=hunter2\n"), r.stderr
    containers = os.path.join(open_root, "containers")
    cid = open(os.path.join(containers, "names", "leaver")).read()
    d = os.path.join(containers, cid)
    assert stat.S_IMODE(os.stat(os.path.join(d, "upper", "tmp", "suid")).st_mode) == 0o4755
    assert stat.S_IMODE(os.stat(os.path.join(d, "config.json")).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(containers).st_mode) == 0o700
    for path in (os.path.join(d, "upper", "tmp", "suid"), os.path.join(d, "config.json"),
                 os.path.join(d, f"{cid}-json.log"), d, containers):
        _unreachable(path)
    assert vmvc("rm", "leaver").returncode == 0


def test_secure_fixes_a_root_made_by_an_older_version(tmp_path):
    root = tmp_path / "old"
    for name in ("containers", "images", "kernels"):
        (root / name).mkdir(parents=True)
        os.chmod(root / name, 0o755)
    os.chmod(root, 0o755)
    changed = paths.secure(str(root))
    assert len(changed) == 4
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o710
    assert all(stat.S_IMODE(os.stat(root / n).st_mode) == 0o700 for n in ("containers", "images", "kernels"))
    assert paths.secure(str(root)) == []
    sticky = tmp_path / "shared"
    sticky.mkdir()
    os.chmod(sticky, 0o1777)
    paths.secure(str(sticky))
    assert stat.S_IMODE(os.stat(sticky).st_mode) == 0o1777  # a /tmp-like root is not vmvc's to change
