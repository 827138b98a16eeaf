"""Each VM's own disk, made from the cached base: a thin qcow2 overlay (default) or a full copy.

Why both: they are the two ways VM platforms give a new VM its disk, and their cost differs by three
orders of magnitude -- an overlay starts at a few hundred KiB and grows with what the guest writes;
a copy costs the whole base at once. A container's writable layer (overlayfs' upper dir) is the
container world's equivalent; :func:`per_vm_cost` measures all three on this host.

The disk lives in ``<cache>/.run-<pid>-*`` (same filesystem as the base, swept when its pid is gone)
and is removed when the context ends, whatever happens; its allocated size is read just before.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

from runtime.errors import UsageError, VmvcError
from runtime.vm.debian import image as cache
from runtime.vm.debian.build import allocated

MODES = ("overlay", "copy")


@dataclass
class Disk:
    path: str
    mode: str
    bytes_at_start: int = 0
    bytes_at_end: int = 0     # filled in when the context ends

    def drive_args(self, machine: str) -> list[str]:
        """QEMU options attaching the disk as virtio-blk (``/dev/vda`` in the guest)."""
        drive = f"file={self.path},format=qcow2,if=none,id=root"
        device = "virtio-blk-device" if machine == "microvm" else "virtio-blk-pci"
        return ["-drive", drive, "-device", f"{device},drive=root"]


def _make(base: str, path: str, mode: str) -> None:
    if mode == "copy":
        shutil.copyfile(base, path)
        return
    proc = subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base, path],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise VmvcError(f"qemu-img create overlay: {(proc.stderr.strip().splitlines() or ['failed'])[-1]}")


@contextlib.contextmanager
def vm_disk(image: cache.Image, mode: str = "overlay", cache_root: str | None = None) -> Iterator[Disk]:
    """A disk for one VM; removed when the block ends (its final size recorded in ``bytes_at_end``)."""
    if mode not in MODES:
        raise UsageError(f"unknown disk mode '{mode}' (choose {', '.join(MODES)})")
    directory = tempfile.mkdtemp(prefix=f".run-{os.getpid()}-", dir=cache.cache_dir(cache_root))
    disk = Disk(os.path.join(directory, f"{mode}.qcow2"), mode)
    try:
        try:
            _make(image.disk, disk.path, mode)
        except OSError as e:
            raise VmvcError(f"cannot make the VM's disk in {directory}: {e.strerror}") from None
        disk.bytes_at_start = allocated(disk.path)
        yield disk
        disk.bytes_at_end = allocated(disk.path)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def tree_bytes(path: str) -> int:
    """Allocated bytes of a directory tree (what ``du`` shows), hard links counted once."""
    seen, total = set(), 0
    for dirpath, dirs, files in os.walk(path):
        for name in dirs + files:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total


def per_vm_cost(boot_vms: bool = True, cache_root: str | None = None, tag: str = "debian:bookworm",
                machine: str = "q35", **boot_kw) -> dict:
    """Bytes one more instance costs on the host's disk, for the same Debian userland.

    ``copy`` and ``overlay``: the VM's disk file (allocated bytes) right after it was made and, with
    ``boot_vms``, after a boot to multi-user.target and power-off (the guest writes its journal,
    random seed, ...). ``container_upper``: the upper dir of a container of the exported image after it
    ran ``cat /etc/os-release`` (plus the image's size, shared by all containers, for scale).
    ``base``: the shared qcow2 base every overlay points at. Needs the image built (it is, if missing).
    """
    from runtime.vm.debian import boot as debian_boot
    from runtime.vm.debian import build, container, recipe

    img, _ = build.build(recipe.make(), cache_root)
    out: dict = {"base": img.manifest["bytes"]["base.qcow2"], "booted": boot_vms}
    for mode in MODES:
        if boot_vms:
            report = debian_boot.boot(machine=machine, disk=mode, cache=cache_root, **boot_kw)
            out[mode] = {"created": report.disk["bytes_at_start"], "after_boot": report.disk["bytes_at_end"]}
        else:
            with vm_disk(img, mode, cache_root) as disk:
                pass
            out[mode] = {"created": disk.bytes_at_start, "after_boot": None}
    out["container_upper"] = container.upper_dir_cost(img, tag)
    return out
