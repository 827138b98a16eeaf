"""The kernel cache: stored with its sha256, verified on every use, survives across sessions."""

from __future__ import annotations

import os

import pytest

from runtime.errors import NotFound, VmvcError
from runtime.vm import kernel


@pytest.fixture
def fake_kernel(tmp_path):
    path = tmp_path / "vmlinuz-9.9.9-test"
    path.write_bytes(b"not really a kernel" * 100)
    return path


def test_store_then_resolve_verifies_the_hash(vmvc_root, fake_kernel):
    stored = kernel.store(str(fake_kernel))
    assert stored.path.startswith(str(vmvc_root / "kernels"))
    assert stored.sha256 == kernel.sha256_of(fake_kernel)
    assert kernel.resolve() == stored            # the newest cached kernel, re-hashed
    with open(stored.path, "ab") as f:           # the file changes behind the cache's back
        f.write(b"tampered")
    with pytest.raises(VmvcError, match="fails its hash check"):
        kernel.resolve()


def test_a_missing_cached_file_is_reported(vmvc_root, fake_kernel):
    stored = kernel.store(str(fake_kernel))
    os.unlink(stored.path)
    with pytest.raises(NotFound, match="fetch-kernel"):
        kernel.resolve()


def test_explicit_path_wins_and_missing_path_is_not_found(vmvc_root, fake_kernel):
    k = kernel.resolve(str(fake_kernel))
    assert k.source == "path" and k.version == "9.9.9-test"
    with pytest.raises(NotFound):
        kernel.resolve(str(fake_kernel) + ".nope")


def test_no_kernel_anywhere_says_what_to_do(vmvc_root, tmp_path):
    with pytest.raises(NotFound, match="vmvc vm fetch-kernel"):
        kernel.resolve(boot=str(tmp_path / "boot"))


def test_host_kernel_is_the_last_resort(vmvc_root, tmp_path, fake_kernel):
    boot = tmp_path / "boot"
    boot.mkdir()
    (boot / "vmlinuz-6.0-host").write_bytes(b"host kernel")
    k = kernel.resolve(boot=str(boot))
    assert k.source == "host" and k.version == "6.0-host"


def test_package_name_comes_from_the_meta_package(monkeypatch):
    calls = []

    def fake_run(cmd, what, cwd=None):
        calls.append(cmd[:2])
        if cmd[0] == "apt-cache" and ["apt-get", "update"] not in calls:
            raise VmvcError("apt-cache depends: E: No packages found")   # no apt lists yet
        return "linux-image-cloud-amd64\n  Depends: linux-image-6.1.0-99-cloud-amd64\n"

    monkeypatch.setattr(kernel, "_run", fake_run)
    assert kernel.package_name(update=True) == "linux-image-6.1.0-99-cloud-amd64"
    assert calls == [["apt-cache", "depends"], ["apt-get", "update"], ["apt-cache", "depends"]]
    calls.clear()
    with pytest.raises(NotFound, match="run apt-get update"):
        kernel.package_name(update=False)
    assert calls == [["apt-cache", "depends"]]


def test_the_real_kernel_is_cached_once_and_reused(guest_kernel):
    assert guest_kernel.source == "cache" and os.path.getsize(guest_kernel.path) > 5_000_000
    again, downloaded = kernel.fetch(guest_kernel.package, cache=os.path.dirname(guest_kernel.path))
    assert not downloaded and again.sha256 == guest_kernel.sha256
    with open(guest_kernel.path, "rb") as f:
        assert b"HdrS" in f.read(1024)        # the x86 boot protocol header of a bzImage
