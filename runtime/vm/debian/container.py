"""The Debian guest's root filesystem as a container image, so both sides run the same userland.

The build keeps ``rootfs.tar`` (the very tree the ext4 disk was made from, ``/dev`` left empty: a
container gets its own). :func:`export` imports it into vmvc's image store as one layer, like
``docker import`` -- after which ``vmvc run --rm debian:bookworm cat /etc/os-release`` prints the
same release the VM boots. The tarball is hash-checked before the import.
"""

from __future__ import annotations

import time

from runtime.vm.debian import image as cache

DEFAULT_TAG = "debian:bookworm"


def export(img: cache.Image, tag: str = DEFAULT_TAG, store_root: str | None = None) -> dict:
    """Import the image's rootfs into the store as ``tag``; returns the id and the seconds it took."""
    from runtime.images import open_store
    from runtime.images.store import DEFAULT_PATH

    t = time.perf_counter()
    cache.verify(img, ("rootfs.tar",))
    verified = time.perf_counter() - t
    config = {"Env": [DEFAULT_PATH], "Cmd": ["/bin/bash"]}
    t = time.perf_counter()
    imported = open_store(store_root).import_tar(img.path("rootfs.tar"), tag, config=config,
                                                 comment=f"vmvc vm image export-container ({img.key})")
    return {"id": imported.id, "tag": tag, "size": imported.size, "import_seconds": time.perf_counter() - t,
            "verify_seconds": verified, "os_release": img.manifest["os_release"]}


def run_once(tag: str, cmd: list[str], engine=None, keep: bool = False) -> dict:
    """Start a container of ``tag`` running ``cmd`` and wait for it; the seconds, output and, with
    ``keep``, its upper dir's allocated bytes (the container is removed afterwards either way)."""
    from runtime.containers import Engine, Spec
    from runtime.vm.debian.disks import tree_bytes

    eng = engine or Engine()
    t = time.perf_counter()
    result = eng.run(Spec(tag, cmd, auto_remove=not keep))
    out = {"seconds": time.perf_counter() - t, "exit_code": result.exit_code,
           "stdout": result.stdout.decode(errors="replace")}
    if keep:
        try:
            out["upper_bytes"] = tree_bytes(eng.table.dir(result.id, "upper"))
        finally:
            eng.remove(result.id, force=True)
    return out


def upper_dir_cost(img: cache.Image, tag: str = DEFAULT_TAG) -> dict:
    """A container's writable layer after ``cat /etc/os-release``: bytes, beside the shared image."""
    from runtime.containers import Engine

    exported = export(img, tag)
    eng = Engine()
    try:
        ran = run_once(tag, ["cat", "/etc/os-release"], eng, keep=True)
    finally:
        eng.shutdown()
    return {"upper": ran["upper_bytes"], "image": exported["size"]}
