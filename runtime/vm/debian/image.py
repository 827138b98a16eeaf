"""The built Debian guest in the cache: one directory per recipe key, its files hashed, verified on use.

Layout (under the state root, beside ``kernels/``; tests use ``/var/cache/vmvc-test/osimages``)::

    osimages/<key>/manifest.json   recipe, sizes, build timings, and the sha256 of every file below
    osimages/<key>/base.qcow2      the root disk (ext4, label ``root``), never written after the build
    osimages/<key>/vmlinuz         the guest's own kernel, taken out of its /boot
    osimages/<key>/initrd.img      the initrd the guest's initramfs-tools made
    osimages/<key>/rootfs.tar      the same root filesystem as a tarball (the container image's source)
    osimages/.build-<pid>-*        a build in progress (removed on failure; swept when its pid is gone)
    osimages/.run-<pid>-*          per-VM disks of a running boot (same)

An entry appears only by ``rename`` of a finished build directory, so a crash or Ctrl-C can leave a
``.build-*`` directory at worst, never a half entry. :func:`verify` re-hashes the files before use
(~1 s for the ~0.8 GB); a mismatch raises :class:`Corrupted` and callers rebuild.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
from dataclasses import dataclass

from runtime import paths
from runtime.errors import NotFound, VmvcError
from runtime.vm.kernel import sha256_of

FILES = ("base.qcow2", "vmlinuz", "initrd.img", "rootfs.tar")
CACHE_ENV = "VMVC_OSIMAGE_CACHE"


class Corrupted(VmvcError):
    """A cached file no longer has the bytes it was built with."""


@dataclass
class Image:
    directory: str
    manifest: dict

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    @property
    def key(self) -> str:
        return self.manifest["recipe"]["key"]

    @property
    def disk(self) -> str:
        return self.path("base.qcow2")

    def to_dict(self) -> dict:
        return {"directory": self.directory, **self.manifest}


def cache_dir(cache: str | None = None) -> str:
    """``cache``, else ``$VMVC_OSIMAGE_CACHE``, else ``<state root>/osimages`` (created)."""
    cache = cache or os.environ.get(CACHE_ENV)
    if cache is None:
        return paths.subdir("osimages")
    os.makedirs(cache, exist_ok=True)
    return os.path.abspath(cache)


def entry(key: str, cache: str | None = None) -> str:
    return os.path.join(cache_dir(cache), key)


def lookup(key: str, cache: str | None = None) -> Image | None:
    """The cached image of ``key`` (not verified), or None."""
    directory = entry(key, cache)
    try:
        with open(os.path.join(directory, "manifest.json")) as f:
            return Image(directory, json.load(f))
    except (OSError, ValueError):
        return None


def cached(cache: str | None = None) -> list[Image]:
    found = [lookup(os.path.basename(d), cache) for d in glob.glob(os.path.join(cache_dir(cache), "*"))]
    return sorted((i for i in found if i), key=lambda i: i.manifest.get("built", 0), reverse=True)


def verify(image: Image, names: tuple[str, ...] = FILES) -> Image:
    """Re-hash ``names``; raises :class:`Corrupted` naming the first file that changed."""
    for name in names:
        expected = image.manifest["sha256"][name]
        try:
            actual = sha256_of(image.path(name))
        except FileNotFoundError:
            raise Corrupted(f"cached Debian image {image.key}: {name} is missing") from None
        if actual != expected:
            raise Corrupted(f"cached Debian image {image.key}: {name} fails its hash check "
                            f"(sha256 {actual[:12]}…, built as {expected[:12]}…)")
    return image


def remove(key: str, cache: str | None = None) -> bool:
    """Drop an entry: renamed aside first, so a reader never sees a half-deleted one."""
    directory = entry(key, cache)
    if not os.path.isdir(directory):
        return False
    doomed = os.path.join(cache_dir(cache), f".rm-{os.getpid()}-{key}")
    os.rename(directory, doomed)
    shutil.rmtree(doomed, ignore_errors=True)
    return True


def sweep_stale(cache: str | None = None) -> list[str]:
    """Remove ``.build-``/``.run-``/``.rm-`` directories whose owning process is gone (SIGKILL)."""
    removed = []
    for path in glob.glob(os.path.join(cache_dir(cache), ".*-*-*")):
        pid = os.path.basename(path).split("-")[1]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def require(key: str, cache: str | None = None) -> Image:
    image = lookup(key, cache)
    if image is None:
        raise NotFound(f"no Debian image {key} in the cache (run 'vmvc vm image build')")
    return image
