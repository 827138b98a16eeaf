"""The initramfs is a real newc archive: our parser and GNU cpio both read it back."""

from __future__ import annotations

import gzip
import stat
import subprocess

import pytest

from runtime.errors import NotFound
from runtime.vm import initramfs as ir


def test_round_trip_keeps_names_modes_data_and_devices():
    entries = [ir.directory("bin"), ir.file("bin/x", b"abc", 0o755), ir.symlink("bin/sh", "busybox"),
               ir.chardev("dev/console", 5, 1)]
    back = ir.parse(ir.cpio_newc(entries))
    assert back == entries
    assert [e.kind for e in back] == ["dir", "file", "symlink", "chardev"]


@pytest.mark.busybox
def test_build_contains_busybox_init_and_the_workload():
    data = ir.build("echo hi; exit 3", services=2)
    assert data[:2] == b"\x1f\x8b"
    by_name = {e.name: e for e in ir.parse(data)}
    assert stat.S_IMODE(by_name["init"].mode) == 0o755
    assert by_name["workload.sh"].data == b"echo hi; exit 3"
    assert by_name["bin/sh"].data == b"busybox" and by_name["bin/sh"].kind == "symlink"
    assert by_name["dev/console"].rdev == (5, 1)
    init = by_name["init"].data.decode()
    assert "mark service:devices" in init and "mark service:hostname" in init
    assert "mark service:loopback" not in init
    run = init.index('sh -c "$(cat /workload.sh)"')
    assert init.index("mark workload-start") < run < init.index("poweroff -f")


@pytest.mark.busybox
def test_gnu_cpio_lists_the_archive(tmp_path):
    raw = gzip.decompress(ir.build("true"))
    names = subprocess.run(["cpio", "-it"], input=raw, capture_output=True, check=True, timeout=60).stdout
    names = names.decode()
    assert {"init", "bin/busybox", "workload.sh", "dev/console"} <= set(names.split())
    listing = subprocess.run(["cpio", "-itv"], input=raw, capture_output=True, check=True,
                             timeout=60).stdout.decode()
    sh = next(line for line in listing.splitlines() if line.endswith(" bin/sh -> busybox"))
    console = next(line for line in listing.splitlines() if line.endswith(" dev/console"))
    assert sh.startswith("l") and console.startswith("c") and "5,   1" in console


def test_services_are_bounded():
    with pytest.raises(ValueError):
        ir.init_script(services=len(ir.SERVICES) + 1)


def test_a_dynamic_or_missing_busybox_is_refused(monkeypatch, tmp_path):
    dynamic = tmp_path / "busybox"
    dynamic.write_bytes(b"\x7fELF....../lib64/ld-linux-x86-64.so.2")
    monkeypatch.setattr(ir, "BUSYBOX_CANDIDATES", (str(dynamic), str(tmp_path / "none")))
    with pytest.raises(NotFound, match="busybox-static"):
        ir.find_busybox()


def test_garbage_is_not_an_archive():
    with pytest.raises(ValueError, match="newc"):
        ir.parse(b"not a cpio archive at all")


@pytest.mark.busybox
def test_every_applet_is_linked_like_a_busybox_image():
    names = ir.applets(ir.find_busybox())
    assert {"sh", "poweroff", "pidof", "wc", "httpd"} <= set(names) and len(names) > 100
    assert ir.applets("/nonexistent/busybox") == list(ir.APPLETS)   # no --list answer: the core set
