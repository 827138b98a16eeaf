"""Every bad input (issue 10): one clear line, docker's exit code, and nothing left behind.

``--cpus nan`` used to pass validation and leave a process, a cgroup and a record on every call;
several broken archives ended in tracebacks. Each case runs through the real CLI, under ``no_leaks``
(the engine fixture), and must leave no container, no image and no staging file.
"""

from __future__ import annotations

import os

import pytest

from runtime.security.hostile import BAD_RUN_FLAGS, bad_archives
from tests.robustness.conftest import REAL

pytestmark = REAL

RUNS = BAD_RUN_FLAGS  # shared with `vmvc doctor --security` (runtime.security.hostile)


def _clean(vmvc, engine) -> None:
    assert vmvc("ps", "-a", "-q").stdout == ""
    assert not os.path.isdir(engine.table.names_dir) or os.listdir(engine.table.names_dir) == []


@pytest.mark.parametrize("flags", RUNS, ids=lambda f: " ".join(f))
def test_bad_run_flags(vmvc, engine, flags):
    r = vmvc("run", "--rm", *flags, "busybox", "true")
    assert r.returncode == 125, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) <= 2 and "Traceback" not in r.stderr, r.stderr  # a bad flag adds "See --help"
    _clean(vmvc, engine)


def test_bad_archives_on_load_and_import(vmvc, engine, tmp_path):
    for name, (path, as_rootfs) in bad_archives(str(tmp_path)).items():
        cmds = [["load", "-i", path]] + ([["import", path, "bad:1"]] if as_rootfs else [])
        for cmd in cmds:
            r = vmvc(*cmd)
            assert r.returncode != 0 and r.stderr.startswith("vmvc: "), (name, cmd, r.stderr)
            assert len(r.stderr.strip().splitlines()) == 1, (name, cmd, r.stderr)
    assert vmvc("images", "-q").stdout == ""
    store_tmp = os.path.join(os.path.dirname(engine.root), "images", "tmp")
    assert not os.path.isdir(store_tmp) or os.listdir(store_tmp) == []


def test_verify_of_a_missing_image(vmvc, engine):
    r = vmvc("image", "verify", "nosuch:1")
    assert r.returncode == 125 and r.stderr.strip() == "vmvc: No such image: nosuch:1", r.stderr


def test_the_api_refuses_nan_too(engine):
    from runtime.containers import Spec
    from runtime.errors import VmvcError

    with pytest.raises(VmvcError):
        engine.create(Spec("busybox", ["true"], cpus=float("nan")))
    spec = {**Spec("busybox", ["true"]).to_dict(), "cpus": float("nan")}
    from runtime.containers.engine import _raise

    with pytest.raises(VmvcError, match="cpus"):
        _raise(engine.spawner.request({"op": "create", "spec": spec}))  # the spawner checks it again
    assert engine.list(all=True) == []
