"""The host's side of the guest report, without a guest: console lines in, checks out."""

from __future__ import annotations

from runtime.vm.debian import v2check


def test_checks_are_found_anywhere_in_a_line_and_a_garbled_one_fails():
    report = v2check.parse([
        "[  OK  ] Reached target multi-user.target",
        'VMVC-V2 {"check": "oom", "ok": true, "exit_code": 137}',
        '[   12.3] x VMVC-V2 {"check": "pids-limit", "ok": false}',     # a kernel line in front
        'VMVC-V2 {"check": "cpu-quota", "ok": tr[  13.0] audit: noise',  # interleaved by the console
        "VMVC-V2-TIME check_oom 20.1",
        "VMVC-V2-EXIT 0",
    ])
    assert [c["check"] for c in report.checks] == ["oom", "pids-limit", "garbled"]
    assert report.check("oom")["exit_code"] == 137
    assert [c["check"] for c in report.failed] == ["pids-limit", "garbled"]
    assert report.exit == "0"


def test_no_exit_line_means_the_guest_never_finished():
    report = v2check.parse(['VMVC-V2 {"check": "guest", "ok": true}'])
    assert report.exit is None and not report.failed


def test_the_image_key_follows_the_base_image():
    assert v2check.key("aaaa") != v2check.key("bbbb")
    assert v2check.key("aaaa") == v2check.key("aaaa") and len(v2check.key("aaaa")) == 16
