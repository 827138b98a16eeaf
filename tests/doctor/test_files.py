"""The doctor's file-based probes against fake /proc and /sys trees (no root needed)."""

from runtime.doctor import MISSING, READY, cgroups, kvm, probe
from runtime.doctor.isolation import namespace_checks, overlay_check, userns_check
from runtime.doctor.system import os_check, root_check
from tests.doctor import fakehost


def test_hybrid_layout_puts_limits_on_v1(tmp_path):
    root = str(fakehost.make(tmp_path, cgroups="hybrid"))
    info = cgroups.layout(root)
    assert info["layout"] == "hybrid"
    assert info["v2_path"] == "/sys/fs/cgroup/unified" and info["v2_controllers"] == []
    assert {"memory", "cpu", "pids", "cpuset"} <= set(info["v1_controllers"])
    check = cgroups.check(root)
    assert check.verdict == READY and check.data["backend"] == "v1"
    assert "hybrid" in check.evidence


def test_pure_v2_layout_uses_v2(tmp_path):
    root = str(fakehost.make(tmp_path, cgroups="v2"))
    check = cgroups.check(root)
    assert check.data["layout"] == "v2" and check.data["backend"] == "v2"
    assert {"memory", "cpu", "pids"} <= set(check.data["v2_controllers"])


def test_pure_v1_layout(tmp_path):
    root = str(fakehost.make(tmp_path, cgroups="v1"))
    check = cgroups.check(root)
    assert check.data["layout"] == "v1" and check.data["backend"] == "v1" and check.usable


def test_no_cgroups_is_missing(tmp_path):
    root = str(fakehost.make(tmp_path, cgroups="none"))
    check = cgroups.check(root)
    assert check.verdict == MISSING and check.advice


def test_v2_without_pids_is_degraded(tmp_path):
    root = fakehost.make(tmp_path, cgroups="v2")
    fakehost.write(root, "sys/fs/cgroup/cgroup.controllers", "cpu memory\n")
    check = cgroups.check(str(root))
    assert check.verdict == "degraded" and "pids" in check.advice


def test_kvm_pvm_is_software_kvm(tmp_path):
    root = str(fakehost.make(tmp_path, kvm="kvm_pvm", cpu_flags="fpu hypervisor"))
    kvm_check, hw = kvm.checks(root, api=12)
    assert kvm_check.verdict == "degraded" and "kvm_pvm" in kvm_check.evidence
    assert hw.verdict == MISSING and "TCG" in hw.advice
    assert kvm_check.data["under_hypervisor"] is True


def test_kvm_intel_with_vmx_is_hardware(tmp_path):
    root = str(fakehost.make(tmp_path, kvm="kvm_intel", cpu_flags="fpu vmx"))
    kvm_check, hw = kvm.checks(root, api=12)
    assert kvm_check.verdict == READY and hw.verdict == READY
    assert hw.data["cpu_virt"] == ["vmx"]


def test_no_kvm_device(tmp_path):
    root = str(fakehost.make(tmp_path, kvm=None, cpu_flags="fpu svm"))
    kvm_check, hw = kvm.checks(root, api=None)
    assert kvm_check.verdict == MISSING and hw.verdict == MISSING


def test_os_and_root(tmp_path):
    root = str(fakehost.make(tmp_path))
    c = os_check(root)
    assert c.data["debian_like"] and c.data["kernel"] == "6.1.0-test"
    assert root_check(0).verdict == READY
    assert root_check(1000).verdict == MISSING and "root" in root_check(1000).advice


def test_namespace_results_map_to_checks():
    results = {"ns": {"mnt": None, "uts": None, "ipc": None, "pid": None, "net": "EPERM",
                      "cgroup": None, "time": "EINVAL", "user": None}, "overlay": None}
    checks = {c.name: c for c in namespace_checks(results)}
    assert checks["ns.pid"].verdict == READY
    assert checks["ns.net"].verdict == MISSING and "EPERM" in checks["ns.net"].evidence
    assert checks["ns.time"].verdict == MISSING


def test_userns_and_overlay_from_results(tmp_path):
    root = fakehost.make(tmp_path)
    ok = {"ns": {"mnt": None, "user": None}, "overlay": None}
    assert userns_check(str(root), ok).verdict == READY
    assert overlay_check(str(root), ok).verdict == READY
    fakehost.write(root, "proc/sys/user/max_user_namespaces", "0\n")
    assert userns_check(str(root), ok).verdict == MISSING
    bad = {"ns": {"mnt": None}, "overlay": "mount overlay: Operation not permitted"}
    c = overlay_check(str(root), bad)
    assert c.verdict == MISSING and "not permitted" in c.evidence


def test_passive_probe_of_fake_tree(tmp_path):
    root = str(fakehost.make(tmp_path, cgroups="v2", kvm="kvm_amd", cpu_flags="svm"))
    report = probe(root, active=False)
    assert report["cgroups"].data["backend"] == "v2"
    assert report.ready("kvm") is False  # passive: the device was not opened
    assert "cgroups" in report.to_dict()["ready"]
