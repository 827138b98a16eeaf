"""PVH direct boot: the ELF inside the bzImage, extracted in Python, cached by hash, booted."""

from __future__ import annotations

import gzip
import lzma

import pytest

from runtime.errors import VmvcError
from runtime.vm import vmlinux


def test_lz4_blocks_decode_literals_matches_and_overlaps():
    # token 0x51: 5 literals "abcde", then a match of 1+4=5 bytes at offset 5 ("abcde" again)
    out = bytearray()
    vmlinux.lz4_block(b"\x51abcde\x05\x00", out)
    assert out == b"abcdeabcde"
    # an overlapping match: 1 literal "x", then offset 1, length 15+3+4 = 22 → "x" * 23
    out = bytearray()
    vmlinux.lz4_block(b"\x1fx\x01\x00\x03", out)
    assert out == b"x" * 23
    # a legacy frame: magic, one block, then the kernel's trailing size word
    block = b"\x51abcde\x05\x00"
    frame = vmlinux.MAGICS["lz4"] + len(block).to_bytes(4, "little") + block + (10).to_bytes(4, "little")
    assert vmlinux.lz4_legacy(frame) == b"abcdeabcde"


@pytest.mark.parametrize("compress", [gzip.compress, lzma.compress])
def test_extract_finds_the_elf_behind_any_magic(compress):
    elf = b"\x7fELF" + b"kernel" * 100
    image = b"MZ setup code \x1f\x8b not-a-stream " + compress(elf) + b"trailer"
    out, fmt = vmlinux.extract(image)
    assert out == elf and fmt in ("gzip", "xz")


def test_a_non_kernel_is_refused():
    with pytest.raises(VmvcError, match="no compressed ELF"):
        vmlinux.extract(b"just some bytes")


def guest_kernel_size(k) -> int:
    import os

    return os.path.getsize(k.path)


def test_the_real_kernel_has_a_pvh_entry_and_is_cached(guest_kernel, tmp_path):
    k = vmlinux.for_kernel(guest_kernel, cache=tmp_path)
    with open(k.path, "rb") as f:
        elf = f.read()
    assert elf[:4] == b"\x7fELF" and vmlinux.has_pvh_note(elf)
    assert len(elf) > 3 * guest_kernel_size(guest_kernel)      # 53 MB out of a 14 MB bzImage
    again = vmlinux.for_kernel(guest_kernel, cache=tmp_path)     # from the cache, re-hashed
    assert again == k
    with open(k.path, "ab") as f:
        f.write(b"tampered")
    with pytest.raises(VmvcError, match="hash check"):
        vmlinux.for_kernel(guest_kernel, cache=tmp_path)


@pytest.mark.qemu
@pytest.mark.busybox
@pytest.mark.slow
def test_pvh_boot_has_no_setup_or_decompression_phase(guest_kernel, vmvc_root, no_leaks):
    import os

    from runtime.vm.boot import boot

    report = boot("echo direct", machine="microvm", accel="tcg", kernel_path=guest_kernel.path, pvh=True,
                  cache=os.path.dirname(guest_kernel.path))     # extracted once, next to the test kernel
    tl = report.timeline
    names = [e.name for e in tl.events]
    assert "setup" not in names and "kernel-entry" in names and "mark:workload-done" in names
    assert tl.phases[0].name == "qemu start-up + kernel load (direct entry)"
    assert tl.info["kernel_entry"] == "pvh" and tl.workload_exit == 0 and tl.monotonic()
