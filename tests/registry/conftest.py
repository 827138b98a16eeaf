"""A real registry (Debian's docker-registry) on loopback, seeded with vmvc's own images as the hub."""

from __future__ import annotations

import os

import pytest

from runtime.registry import LocalRegistry, seed


def fresh_store(tmp_path, name: str):
    """A store in its own state root (the pull side of a round trip)."""
    from runtime.images import open_store

    root = tmp_path / name
    root.mkdir()
    old = os.environ.get("VMVC_ROOT")
    os.environ["VMVC_ROOT"] = str(root)
    try:
        return open_store()
    finally:
        if old is None:
            del os.environ["VMVC_ROOT"]
        else:
            os.environ["VMVC_ROOT"] = old


@pytest.fixture
def hub(tmp_path, vmvc_root):
    """The hub, with library/hello-world and library/busybox pushed from a seeding store."""
    with LocalRegistry(str(tmp_path / "hub")) as reg:
        reg.seeded = seed(fresh_store(tmp_path, "seeder"), reg.host)
        yield reg
