"""The doctor on the real host: it tries things for real and leaves nothing behind."""

import json
import os
import subprocess
import sys
import tempfile

import pytest

from runtime.doctor import probe
from runtime.doctor.cgroups import mounts
from runtime.doctor.tools import elf_is_static

pytestmark = pytest.mark.root


def test_probe_leaves_nothing_behind(no_leaks, monkeypatch):
    made = []
    mkdtemp = tempfile.mkdtemp
    monkeypatch.setattr(tempfile, "mkdtemp", lambda *a, **k: made.append(mkdtemp(*a, **k)) or made[-1])
    report = probe()
    assert made and all(os.path.basename(d).startswith("vmvc-doctor-") for d in made)  # it did try
    assert not any(os.path.exists(d) for d in made)
    assert report.ready("root")


@pytest.mark.namespaces
@pytest.mark.overlay
def test_namespaces_and_overlay_by_trying():
    report = probe()
    for kind in ("mnt", "uts", "ipc", "pid", "net", "cgroup", "user"):
        assert report.ready(f"ns.{kind}"), report.reason(f"ns.{kind}")
    assert report.ready("overlayfs")


def test_cgroup_layout_matches_the_mount_table():
    report = probe()
    fstypes = {fstype for _, fstype, _ in mounts("/")}
    expected = {frozenset({"cgroup", "cgroup2"}): "hybrid", frozenset({"cgroup2"}): "v2",
                frozenset({"cgroup"}): "v1"}[frozenset(fstypes)]
    assert report["cgroups"].data["layout"] == expected


def test_kvm_module_matches_sys_module():
    report = probe()
    modules = [m for m in ("kvm_intel", "kvm_amd", "kvm_pvm") if os.path.isdir(f"/sys/module/{m}")]
    assert [m for m in report["kvm"].data["modules"] if m != "kvm_hv"] == modules
    if "kvm_pvm" in modules:  # this project's dev/CI hosts: a software KVM
        assert report["kvm"].verdict == "degraded" and not report.ready("kvm.hw")


@pytest.mark.qemu
def test_qemu_machines_and_accelerators():
    data = probe()["qemu"].data
    assert {"microvm", "pc", "q35"} <= set(data["machines"])
    assert "tcg" in data["accels"]


@pytest.mark.busybox
def test_busybox_is_static():
    assert elf_is_static(probe()["busybox"].data["path"])
    assert elf_is_static(sys.executable) is False


def test_doctor_json_cli():
    out = subprocess.run([sys.executable, "-m", "runtime.cli", "doctor", "--json"], capture_output=True,
                         text=True, check=True, timeout=120).stdout
    data = json.loads(out)
    names = {c["name"] for c in data["checks"]}
    assert {"os", "root", "ns.pid", "overlayfs", "cgroups", "kvm", "kvm.hw", "qemu", "busybox", "crun",
            "runc", "dockerd", "docker", "docker-registry", "python"} <= names
    assert all(c["verdict"] in ("ready", "degraded", "missing") and c["evidence"] for c in data["checks"])
