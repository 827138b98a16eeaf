"""Damaged records (issue 10, "faults and state"): quarantined with one line, the rest still usable.

A truncated or garbage ``config.json``/``state.json`` used to crash ``ps -a``, ``rm`` and recovery
with a traceback. Records are made here without a spawner (``create`` in-process), damaged by hand,
and then the real CLI is run over them.
"""

from __future__ import annotations

import io
import json
import os

import pytest

from runtime.containers.create import create
from runtime.containers.spec import Spec
from runtime.containers.state import Containers
from runtime.images import open_store
from tests.images.helpers import make_tar
from tests.robustness.cli import vmvc


def _names() -> list[str]:
    r = vmvc("ps", "-a", "--json")
    assert r.returncode == 0, r.stderr
    return sorted(c["Names"][0].lstrip("/") for c in json.loads(r.stdout))


@pytest.fixture
def table(vmvc_root, no_leaks):
    store = open_store()
    store.import_tar(io.BytesIO(make_tar([("bin", "dir"), ("bin/sh", "file", "x")])), "tiny:1")
    table = Containers(os.path.join(vmvc_root, "containers"))
    os.makedirs(table.root, exist_ok=True)
    for name in ("alpha", "bravo", "charlie"):
        create(table, Spec("tiny:1", ["/bin/sh"], name=name), store)
    return table


@pytest.mark.parametrize("damage", [b"", b"\x00\xff garbage", b'{"id": 5}', b"[" * 100000])
def test_a_damaged_config_is_quarantined_and_the_rest_listed(table, damage):
    alpha = table.resolve("alpha")
    with open(table.dir(alpha, "config.json"), "wb") as f:
        f.write(damage)
    r = vmvc("ps", "-a", "--json")
    assert r.returncode == 0, r.stderr
    assert sorted(c["Names"][0] for c in json.loads(r.stdout)) == ["/bravo", "/charlie"]
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "config.json is damaged" in lines[0] and ".quarantine" in lines[0], r.stderr
    assert vmvc("ps", "-a").stderr == ""  # once moved aside, no more noise
    assert not os.path.exists(table.dir(alpha))
    assert os.listdir(os.path.join(table.root, ".quarantine"))
    # its name and its image hold were released: the name is free again, the image removable
    assert vmvc("rm", "alpha").returncode != 0
    store = open_store()
    create(table, Spec("tiny:1", ["/bin/sh"], name="alpha"), store)
    assert len(store.holders(store.resolve("tiny:1").id)) == 3


@pytest.mark.parametrize("damage", [b"", b"{", b'{"status": 5}', b"null"])
def test_a_damaged_state_is_replaced_by_an_exited_one(table, damage):
    bravo = table.resolve("bravo")
    with open(table.dir(bravo, "state.json"), "wb") as f:
        f.write(damage)
    r = vmvc("inspect", "bravo")
    assert r.returncode == 0, r.stderr
    assert '"Status": "exited"' in r.stdout and "damaged" in r.stdout
    assert len(r.stderr.strip().splitlines()) == 1 and "state.json is damaged" in r.stderr
    r = vmvc("rm", "bravo")
    assert (r.returncode, r.stderr) == (0, ""), r.stderr
    assert _names() == ["alpha", "charlie"]


def test_records_are_root_only(table):
    cid = table.resolve("charlie")
    assert os.stat(table.dir(cid, "config.json")).st_mode & 0o777 == 0o600


def test_recovery_frees_names_whose_container_is_gone(table):
    table.reserve_name("ghost", "f" * 64)  # a crash between reserving the name and making the dir
    assert table.release_stale_names() == ["ghost"]
    table.reserve_name("ghost", "e" * 64)


def test_a_reference_is_never_a_path_out_of_the_names_dir(table):
    from runtime.errors import NotFound

    secret = os.path.join(table.root, "secret")
    with open(secret, "w") as f:
        f.write("a" * 64)  # looks like an id: must still not be read through "names/../secret"
    for ref in ("../secret", "/../secret", "names/../../secret", ".."):
        with pytest.raises(NotFound) as e:
            table.resolve(ref)
        assert "aaaa" not in str(e.value)
