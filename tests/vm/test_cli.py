"""``vmvc vm …`` end to end through the real dispatcher."""

from __future__ import annotations

import json

import pytest

from runtime.cli.main import main


def run(capsys, *argv):
    code = main(["vm", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.qemu
@pytest.mark.busybox
@pytest.mark.slow
def test_boot_json_has_the_timeline_and_exit_code(capsys, guest_kernel, vmvc_root, fonts_loaded, no_leaks,
                                                  tmp_path):
    png = tmp_path / "timeline.png"
    code, out, _ = run(capsys, "boot", "--kernel", guest_kernel.path, "--accel", "tcg", "--json",
                       "--workload", "echo via-cli; exit 4", "--plot", str(png))
    assert code == 4                       # like docker run: the workload's exit code
    data = json.loads(out)
    assert data["machine"] == "microvm" and data["accel"] == "tcg"
    assert data["timeline"]["workload_exit"] == 4
    assert [p["name"] for p in data["timeline"]["phases"]][-1] == "poweroff + qemu exit"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.qemu
@pytest.mark.busybox
@pytest.mark.slow
def test_boot_table_names_the_accelerator_and_why(capsys, guest_kernel, vmvc_root, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")   # rich wraps cells to the terminal width
    code, out, _ = run(capsys, "boot", "--kernel", guest_kernel.path, "--accel", "auto")
    assert code == 0
    assert "kernel boot to /init" in out and "workload" in out
    assert "accelerator: " in out and "QEMU peak RSS" in out


def test_bad_machine_and_services_are_usage_errors(capsys, vmvc_root):
    code, _, err = run(capsys, "boot", "--machine", "vax")
    assert code == 2 and "unknown machine 'vax'" in err
    code, _, err = run(capsys, "boot", "--services", "99")
    assert code == 2 and "--services" in err
    code, _, err = run(capsys, "teleport")
    assert code == 2 and "'teleport' is not a 'vmvc vm' command" in err


@pytest.mark.kvm
@pytest.mark.no_kvm_hw  # with VT-x/AMD-V, KVM would be used: nothing to refuse (a skip CI allows)
def test_requested_kvm_is_refused_up_front_without_hardware(capsys, guest_kernel, vmvc_root):
    code, _, err = run(capsys, "boot", "--kernel", guest_kernel.path, "--accel", "kvm")
    assert code == 125 and "--accel kvm refused" in err and "use --accel tcg" in err


def test_boot_without_a_kernel_tries_a_fetch_and_says_why_it_failed(capsys, vmvc_root, monkeypatch):
    from runtime.errors import NotFound
    from runtime.vm import kernel

    def no_apt(*args, **kwargs):
        raise NotFound("apt-cache depends: apt-cache not found "
                       "(a Debian/Ubuntu host is needed to fetch kernels)")

    monkeypatch.setattr(kernel, "host_kernels", lambda boot="/boot": [])
    monkeypatch.setattr(kernel, "fetch", no_apt)
    code, _, err = run(capsys, "boot", "--accel", "tcg")
    assert code == 125
    assert "Unable to find a guest kernel locally" in err and "Debian/Ubuntu host is needed" in err


@pytest.mark.kvm
def test_pyvmm_json_and_table(capsys):
    code, out, _ = run(capsys, "pyvmm", "--guest", "hello", "--mode", "all", "--json")
    assert code == 0
    data = json.loads(out)
    assert [d["mode"] for d in data] == ["real", "protected", "long"]
    assert {d["serial"] for d in data} == {"Hello from pyvmm!\n"}
    assert all(d["exits"]["counts"] == {"io": 18, "hlt": 1} for d in data)
    code, out, _ = run(capsys, "pyvmm")
    assert code == 0 and "VM exits by reason" in out


@pytest.mark.kvm
def test_accel_explains(capsys):
    code, out, _ = run(capsys, "accel", "--json")
    assert code == 0 and json.loads(out)["accel"] in ("kvm", "tcg") and json.loads(out)["reason"]


@pytest.mark.busybox
def test_initramfs_write_and_list(capsys, tmp_path):
    path = tmp_path / "initrd.gz"
    code, out, _ = run(capsys, "initramfs", str(path), "--services", "3")
    assert code == 0 and path.stat().st_size > 100_000
    code, out, _ = run(capsys, "initramfs", "--list", str(path))
    assert code == 0 and "file" in out and " init\n" in out
    code, _, err = run(capsys, "initramfs", "--list", str(tmp_path / "missing"))
    assert code == 125 and "missing" in err


def test_fetch_kernel_from_a_path_and_kernels_verifies(capsys, vmvc_root, tmp_path):
    src = tmp_path / "bzImage"
    src.write_bytes(b"kernel bytes")
    code, out, _ = run(capsys, "fetch-kernel", "--kernel", str(src), "--json")
    assert code == 0 and json.loads(out)["path"].endswith("kernels/vmlinuz-bzImage")
    code, out, _ = run(capsys, "kernels", "--json")
    assert code == 0 and json.loads(out)[0]["verified"] == "ok"
    (vmvc_root / "kernels" / "vmlinuz-bzImage").write_bytes(b"changed")
    code, out, _ = run(capsys, "kernels", "--json")
    assert code == 125 and "hash check" in json.loads(out)[0]["verified"]
