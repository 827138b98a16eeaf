"""Test-wide rules: capability markers skip with the doctor's evidence; under CI nothing skips quietly.

A test marked ``@pytest.mark.qemu`` runs only where ``vmvc doctor`` finds QEMU usable, and otherwise
skips with the doctor's reason. Under ``CI=true`` a skip is a failure unless it names a capability
this kind of host cannot have whatever is installed (hardware virtualisation): CI installs
everything else, so a skip there means a test silently stopped testing.
"""

from __future__ import annotations

import os

import pytest

from runtime.doctor import host

pytest_plugins = ["pytester"]

NAMESPACE_CHECKS = [f"ns.{k}" for k in ("mnt", "uts", "ipc", "pid", "net", "cgroup")]

# marker -> doctor checks that must be usable
CAPABILITIES = {
    "root": ["root"],
    "namespaces": ["root", *NAMESPACE_CHECKS],
    "overlay": ["root", "overlayfs"],
    "cgroups": ["root", "cgroups"],
    "kvm": ["root", "kvm"],
    "kvm_hw": ["kvm.hw"],
    "qemu": ["qemu"],
    "busybox": ["busybox"],
    "crun": ["crun"],
    "runc": ["runc"],
    "dockerd": ["dockerd"],
    "docker_cli": ["docker"],
    "registry": ["docker-registry"],
    "skopeo": ["skopeo"],
    "fio": ["fio"],
    "network_tools": ["ip"],
    "chromium": ["chromium"],
}

# What CI on this kind of host may lack without that being a testing gap.
CI_MAY_LACK = {"kvm_hw"}

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_runtest_setup(item):
    report = None
    for marker in item.iter_markers():
        checks = CAPABILITIES.get(marker.name)
        if not checks:
            continue
        report = report or host()
        for name in checks:
            if not report.ready(name):
                item.user_properties.append(("capability_skip", marker.name))
                pytest.skip(f"needs {marker.name}: {report.reason(name)}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not (IN_CI and rep.skipped) or hasattr(rep, "wasxfail"):
        return
    allowed = any(k == "capability_skip" and v in CI_MAY_LACK for k, v in item.user_properties)
    if not allowed:
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        rep.outcome = "failed"
        rep.longrepr = f"skipped under CI=true, where this host should have it: {reason}"


@pytest.fixture
def vmvc_root(tmp_path, monkeypatch):
    """A private engine state root (``$VMVC_ROOT``), so tests never touch /var/lib/vmvc."""
    root = tmp_path / "vmvc-root"
    root.mkdir()
    monkeypatch.setenv("VMVC_ROOT", str(root))
    return root


@pytest.fixture
def no_leaks(tmp_path_factory):
    """Snapshot what the host has (mounts, cgroups, netns, processes, temp dirs, fds); fail if it grew.

    Scoped to this run's temp dir (see tests/leaks.py), so other vmvc users on the host do not count.
    """
    from tests.leaks import assert_no_leaks, snapshot

    before = snapshot(str(tmp_path_factory.getbasetemp()))
    yield before
    assert_no_leaks(before)


def pytest_report_header(config):
    """The doctor's table at the top of every run: what this host let the tests use."""
    report = host()
    lines = [f"vmvc doctor ({report.seconds:.2f}s):"]
    for c in report.checks:
        lines.append(f"  {c.verdict:9} {c.name:16} {c.evidence[:100]}")
    return lines
