"""cgroup v2 proven on a real kernel: vmvc's container limits inside a pure-v2 Debian guest.

This host is hybrid (v1 carries the controllers), so the v2 backend is otherwise only unit-tested on a
fake cgroupfs. Here the full-OS Debian guest boots with ``systemd.unified_cgroup_hierarchy=1
cgroup_no_v1=all``, runs this checkout's vmvc through its real CLI (``guest.py``, from a per-run source
disk) and reports one ``VMVC-V2 {json}`` line per check on the serial console; the host parses them.

The guest image is derived from the default Debian image the full-OS VM work caches in
``/var/cache/vmvc-test/osimages`` (built there first on a fresh machine, a few minutes) and cached
beside it under ``v2check/``. One boot for the whole module.
"""

from __future__ import annotations

import os

import pytest

from runtime.vm.debian import v2check

OSIMAGE_CACHE = os.environ.get("VMVC_TEST_OSIMAGE_CACHE", "/var/cache/vmvc-test/osimages")
CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXPECTED = ("guest", "pure-v2", "doctor", "oom", "crun-anchor", "pids-limit", "limits-written",
            "own-leaf-cgroup", "cpuset", "cgroupns-readonly", "cgroup-removed", "cpu-quota", "pytest",
            "nothing-left")
# the project's own tests the guest runs under pytest (one "pytest <module>::<test>" line each)
LIMIT_TESTS = ("test_memory_limit_oom_kills_with_137", "test_oom_killed_is_recorded",
               "test_under_the_limit_nothing_happens", "test_pids_limit_holds_a_fork_bomb",
               "test_cpu_quota_caps_usage", "test_stats_report_memory_and_pids")

pytestmark = [pytest.mark.root, pytest.mark.qemu, pytest.mark.slow, pytest.mark.timeout(3000)]


@pytest.fixture(scope="module")
def report():
    """One boot of the guest: image derived (or taken from the cache), vmvc run inside, report parsed."""
    return v2check.run(CHECKOUT, OSIMAGE_CACHE)


def _explain(report) -> str:
    return "\n".join(report.console[-40:])


def test_the_guest_ran_every_check_and_exited_cleanly(report):
    names = [c["check"] for c in report.checks if not c["check"].startswith("pytest ")]
    assert names == list(EXPECTED), _explain(report)
    assert report.exit == "0", report.failed or _explain(report)


def test_the_projects_limit_and_cgroup_tests_pass_in_the_guest(report):
    """tests/containers/test_limits.py and tests/cgroups/, run by pytest inside (CI=true: no skips)."""
    cases = {c["check"].removeprefix("pytest "): c for c in report.checks if c["check"].startswith("pytest ")}
    assert {f"tests.containers.test_limits::{t}" for t in LIMIT_TESTS} <= set(cases), sorted(cases)
    assert any(k.startswith("tests.cgroups.test_real::") for k in cases), sorted(cases)
    assert [c for c in cases.values() if not c["ok"]] == []
    assert report.check("pytest")["ok"], report.check("pytest")


def test_the_guest_is_pure_cgroup_v2(report):
    pure = report.check("pure-v2")
    assert pure["cgroup_fstypes"] == ["cgroup2"], pure["mountinfo"]
    assert {"memory", "cpu", "pids"} <= set(pure["controllers"])
    assert "cgroup_no_v1=all" in pure["cmdline"] and "systemd.unified_cgroup_hierarchy=1" in pure["cmdline"]
    assert pure["ok"]
    doctor = report.check("doctor")
    assert (doctor["backend"], doctor["verdict"]) == ("v2", "ready"), doctor


@pytest.mark.parametrize("name", [n for n in EXPECTED if n not in ("guest", "pure-v2", "doctor", "pytest")])
def test_limit_check_passed_in_the_guest(report, name):
    check = report.check(name)
    assert check is not None, f"the guest never reported '{name}':\n{_explain(report)}"
    assert check["ok"], check


def test_the_evidence_is_the_kernels(report):
    """Figures only a real v2 kernel produces: the OOM killer's verdict, the fork bomb held at the
    limit, CFS throttling, cpu.max as the kernel prints it."""
    assert report.check("oom")["exit_code"] == 137 and report.check("oom")["oom_killed"] is True
    assert 40 <= report.check("pids-limit")["processes"] <= 50
    assert report.check("cpu-quota")["nr_throttled"] > 0
    assert report.check("limits-written")["files"]["cpu.max"] == "50000 100000"
    assert report.check("own-leaf-cgroup")["proc_cgroup"].startswith("0::/vmvc")
