"""The accelerator decision: evidence in, KVM or TCG out, with the reason."""

from __future__ import annotations

import pytest

from runtime.errors import UsageError, VmvcError
from runtime.vm.accel import Evidence, decide

HARDWARE = Evidence(True, 12, ["kvm", "kvm_intel"], ["vmx"], True, 0.4)
PVM = Evidence(True, 12, ["kvm", "kvm_pvm"], [], True, 1.2)


def test_auto_picks_kvm_where_kvm_works():
    d = decide("auto", probe=lambda: HARDWARE)
    assert d.accel == "kvm"
    assert "kvm_intel" in d.reason and "vmx" in d.reason and "tiny guest ran" in d.reason


def test_auto_picks_tcg_on_a_software_kvm():
    d = decide("auto", probe=lambda: PVM)
    assert d.accel == "tcg" and "kvm_pvm" in d.reason and "software KVM" in d.reason


def test_hardware_whose_tiny_guest_fails_is_not_trusted():
    broken = Evidence(True, 12, ["kvm", "kvm_amd"], ["svm"], False, 3.0, "KVM internal error")
    d = decide("auto", probe=lambda: broken)
    assert d.accel == "tcg" and "tiny guest failed (KVM internal error)" in d.reason


def test_no_device_means_tcg():
    d = decide("auto", probe=lambda: Evidence(False, None, [], []))
    assert d.accel == "tcg" and d.reason.startswith("no /dev/kvm")


def test_requested_kvm_on_a_software_kvm_is_refused_up_front():
    with pytest.raises(VmvcError, match="--accel kvm refused: /dev/kvm is kvm_pvm"):
        decide("kvm", probe=lambda: PVM)
    assert decide("kvm", probe=lambda: HARDWARE).reason.startswith("requested")


def test_tcg_needs_no_evidence():
    def probe():
        raise AssertionError("probed")

    assert decide("tcg", probe=probe).accel == "tcg"
    with pytest.raises(UsageError):
        decide("hvf")


@pytest.mark.kvm
def test_auto_on_this_host_decides_quickly_with_its_reason():
    from runtime.doctor import host

    d = decide("auto")
    assert d.accel == ("kvm" if host().ready("kvm.hw") else "tcg")
    assert d.evidence["guest_ok"] is True  # the tiny guest runs on any KVM, software or not
    if d.accel == "tcg":
        assert "software KVM" in d.reason or "no vmx/svm" in d.reason
