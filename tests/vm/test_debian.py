"""The full Debian guest for real: built with mmdebstrap, booted under QEMU to multi-user.target.

The image is built once into ``/var/cache/vmvc-test/osimages`` (or ``$VMVC_TEST_OSIMAGE_CACHE``) and
reused by every later session, like the kernel cache: CI on a fresh machine builds it once.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from runtime.vm.debian import boot as debian_boot
from runtime.vm.debian import build, recipe
from runtime.vm.debian import image as cache
from tests.vm.conftest import alive

OSIMAGE_CACHE = os.environ.get("VMVC_TEST_OSIMAGE_CACHE", "/var/cache/vmvc-test/osimages")

# The first test to ask for the image may have to build it (a few minutes on a fresh machine).
pytestmark = [pytest.mark.root, pytest.mark.qemu, pytest.mark.slow, pytest.mark.timeout(1800)]


def loop_devices() -> set[str]:
    """Loop devices with a backing file (the build must never set one up)."""
    return {os.path.basename(os.path.dirname(p)) for p in glob.glob("/sys/block/loop*/loop/backing_file")}


def leftovers(directory: str) -> list[str]:
    return [p for p in glob.glob(os.path.join(directory, ".*")) if f"-{os.getpid()}-" in p
            or not os.path.exists(f"/proc/{os.path.basename(p).split('-')[1]}")]


@pytest.fixture(scope="session")
def debian_image():
    """The default recipe's image, verified (built on first use: a few minutes)."""
    img, _ = build.build(recipe.make(), OSIMAGE_CACHE)
    return img


def test_build_is_cached_and_a_second_build_is_a_lookup(debian_image):
    again, built = build.build(recipe.make(), OSIMAGE_CACHE)
    assert not built and again.directory == debian_image.directory
    m = debian_image.manifest
    assert m["os_release"]["VERSION_CODENAME"] == "bookworm"
    assert m["kernel"].endswith("-cloud-amd64")
    assert set(m["sha256"]) == set(cache.FILES)
    assert m["bytes"]["base.qcow2"] < m["bytes"]["disk_virtual"]        # sparse: only written clusters
    assert not leftovers(OSIMAGE_CACHE)


def _cli(*argv, env_extra=None) -> subprocess.Popen:
    env = {**os.environ, "VMVC_OSIMAGE_CACHE": OSIMAGE_CACHE, **(env_extra or {})}
    return subprocess.Popen([sys.executable, "-m", "runtime.cli", "vm", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)


def _qemu_child(proc: subprocess.Popen, within: float = 120) -> int:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and proc.poll() is None:
        kids = subprocess.run(["pgrep", "-P", str(proc.pid), "qemu-system"], capture_output=True, text=True)
        if kids.stdout.split():
            return int(kids.stdout.split()[0])
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"no qemu appeared: {proc.communicate()[1].decode()[-300:]}")


def test_ctrl_c_of_vmvc_vm_boot_os_debian_leaves_nothing(debian_image, vmvc_root, no_leaks):
    proc = _cli("boot", "--os", "debian", "--json")
    qemu_pid = _qemu_child(proc)
    time.sleep(2)                                   # the guest is booting now
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()[-300:]
    deadline = time.monotonic() + 5
    while alive(qemu_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(qemu_pid)
    assert not leftovers(OSIMAGE_CACHE)              # the VM's overlay went with it


def test_a_timeout_kills_qemu_and_removes_the_vm_disk(debian_image, vmvc_root, no_leaks):
    from runtime.vm.qemu import BootTimeout

    with pytest.raises(BootTimeout, match="timed out after 5 s"):
        debian_boot.boot("q35", 512, accel="tcg", cache=OSIMAGE_CACHE, img=debian_image, timeout=5)
    assert not leftovers(OSIMAGE_CACHE)


def test_boots_to_multi_user_through_its_own_kernel_in_consecutive_phases(debian_image, vmvc_root, no_leaks):
    """One full boot (the slow part of this file): ``vmvc vm boot --os debian --json`` under the decided
    accelerator, to vmvc's marker after multi-user.target, then power-off."""
    loops = loop_devices()
    proc = _cli("boot", "--os", "debian", "--memory", "640", "--json")
    out, err = proc.communicate(timeout=800)
    assert proc.returncode == 0, err.decode()[-500:]
    data = json.loads(out)
    assert (data["machine"], data["memory_mb"], data["os"]) == ("q35", 640, "debian")
    assert data["accel"] in ("tcg", "kvm") and data["accel_reason"]
    assert data["kernel"]["path"] == debian_image.path("vmlinuz") and data["kernel"]["source"] == "guest"
    # systemd's own milestones, read from the console in order, then vmvc's marker and report
    assert data["systemd_milestones"] == ["systemd", "sysinit", "basic", "multi-user"]
    tl = data["timeline"]
    names = [e["name"] for e in tl["events"]]
    assert names.index("init") < names.index("root-mounted") < names.index("multi-user") \
        < names.index("mark:multi-user") < names.index("mark:report") < names.index("exit")
    assert all(a["end"] == b["start"] for a, b in zip(tl["phases"], tl["phases"][1:], strict=False))
    assert tl["total"] == pytest.approx(tl["wall"]) and not any(e["clamped"] for e in tl["events"])
    assert 0 < data["multi_user_seconds"] < tl["wall"]
    assert 0 < data["qemu_cpu_seconds_to_multi_user"] < tl["wall"] * 2
    # what systemd measured itself, reported over the console by vmvc's unit
    systemd = data["systemd"]
    assert systemd["os"].startswith("Debian GNU/Linux 12") and systemd["time"] and systemd["blame"]
    assert set(systemd["units"]) == {"sysinit.target", "basic.target", "multi-user.target"}
    assert data["disk"]["mode"] == "overlay"
    disk = data["disk"]
    assert disk["bytes_at_start"] <= disk["bytes_at_end"] < debian_image.manifest["bytes"]["base.qcow2"]
    assert data["image"]["key"] == debian_image.key
    assert loop_devices() == loops
    assert not leftovers(OSIMAGE_CACHE)
    assert cache.verify(debian_image)      # the base was never written


def test_export_container_runs_the_same_release(debian_image, vmvc_root, no_leaks):
    from runtime.cli.main import main

    env = {**os.environ, "VMVC_ROOT": str(vmvc_root)}
    proc = _cli("image", "export-container", "--json", env_extra=env)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err.decode()[-500:]
    assert json.loads(out)["tag"] == "debian:bookworm"
    run = subprocess.run([sys.executable, "-m", "runtime.cli", "run", "--rm", "debian:bookworm", "cat",
                          "/etc/os-release"], capture_output=True, text=True, env=env, timeout=120)
    try:
        assert run.returncode == 0, run.stderr
        assert f'PRETTY_NAME="{debian_image.manifest["os_release"]["PRETTY_NAME"]}"' in run.stdout
    finally:
        main(["system", "stop"])


def test_per_vm_disk_cost_without_booting(debian_image, vmvc_root, no_leaks):
    from runtime.vm.debian.disks import per_vm_cost

    cost = per_vm_cost(boot_vms=False, cache_root=OSIMAGE_CACHE)
    # a copy allocates what the base does (give or take the file system's block placement)
    assert cost["copy"]["created"] == pytest.approx(debian_image.manifest["bytes"]["base.qcow2"], rel=0.01)
    assert cost["overlay"]["created"] < 2 * 2**20 < cost["copy"]["created"]
    assert 0 < cost["container_upper"]["upper"] < 2**20 < cost["container_upper"]["image"]
    assert not leftovers(OSIMAGE_CACHE)


# -- bad input: one clear line, nothing half-built in the cache -------------------------------------------
def _build_cli(cache_dir, *argv):
    proc = _cli("image", "build", *argv, env_extra={"VMVC_OSIMAGE_CACHE": str(cache_dir)})
    out, err = proc.communicate(timeout=600)
    return proc.returncode, err.decode().strip().splitlines()


@pytest.mark.parametrize("argv, message", [
    (["--packages", "vmvc-no-such-package"], "unknown package 'vmvc-no-such-package' in Debian bookworm"),
    (["--release", "vmvcnosuchrelease"], "unknown Debian release 'vmvcnosuchrelease'"),
])
def test_unknown_package_or_release_is_one_line_and_leaves_nothing(tmp_path, argv, message, no_leaks):
    code, err = _build_cli(tmp_path / "c", *argv)
    assert code == 125
    assert err[-1].startswith("vmvc: ") and message in err[-1], err[-3:]
    assert os.listdir(tmp_path / "c") == []


def test_no_space_left_is_one_line_and_leaves_nothing(tmp_path, no_leaks):
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "vmvc-test-small", str(small)], check=True)
    try:
        code, err = _build_cli(small)
        assert code == 125 and "no space left on device" in err[-1], err[-3:]
        assert os.listdir(small) == []
    finally:
        subprocess.run(["umount", str(small)], check=True)


def _clone(img: cache.Image, root) -> cache.Image:
    """A cheap copy of a cache entry: the big files hard-linked (never written), the small ones copied."""
    target = root / img.key
    target.mkdir(parents=True)
    for name in os.listdir(img.directory):
        src = os.path.join(img.directory, name)
        if name in ("base.qcow2", "rootfs.tar"):
            os.link(src, target / name)
        else:
            shutil.copyfile(src, target / name)
    return cache.lookup(img.key, str(root))


def test_a_corrupted_cache_entry_is_detected_and_an_interrupted_rebuild_leaves_it(debian_image, tmp_path,
                                                                                 monkeypatch):
    root = tmp_path / "c"
    copy = _clone(debian_image, root)
    with open(copy.path("vmlinuz"), "r+b") as f:       # flip bytes in the middle of the kernel
        f.seek(4096)
        data = f.read(4)
        f.seek(4096)
        f.write(bytes(b ^ 0xFF for b in data))
    with pytest.raises(cache.Corrupted, match="vmlinuz fails its hash check"):
        cache.verify(copy)
    proc = _cli("image", "ls", "--verify", "--json", env_extra={"VMVC_OSIMAGE_CACHE": str(root)})
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 125 and "vmlinuz fails its hash check" in json.loads(out)[0]["verified"]

    def interrupted(*args):
        raise KeyboardInterrupt

    seen = []
    monkeypatch.setattr(build, "_build_in", interrupted)
    monkeypatch.setattr(build, "check_tools", lambda: None)
    with pytest.raises(KeyboardInterrupt):
        build.build(recipe.make(), str(root), progress=lambda stage, detail: seen.append(detail))
    assert any("vmlinuz fails its hash check" in d and d.endswith("rebuilding") for d in seen)
    assert sorted(os.listdir(root)) == [copy.key]      # no .build-* dir; the old entry until a new one exists
