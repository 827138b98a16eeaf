"""Test-wide rules: capability markers skip with the doctor's evidence; under CI nothing skips quietly.

A test marked ``@pytest.mark.qemu`` runs only where ``vmvc doctor`` finds QEMU usable, and otherwise
skips with the doctor's reason. Under ``CI=true`` a skip is a failure unless it names a capability
this kind of host cannot have whatever is installed (hardware virtualisation, or its absence): CI
installs everything else, so a skip there means a test silently stopped testing. The same holds for a
skip at collection time (``importorskip``, a module-level ``skip``) and for a non-strict ``xfail``.

The run is hermetic: ``$TMPDIR`` and ``$VMVC_ROOT`` point into the run's pytest base temp for the whole
session, so nothing touches ``/var/lib/vmvc`` or another user's ``/tmp`` entries, and the leak checks
(tests/leaks.py) look only at what this run made.
"""

from __future__ import annotations

import os
import tempfile

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
    "rootless": ["rootless", "busybox"],  # a user without root can run containers (runtime.rootless)
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
# marker -> doctor checks that must NOT be usable (a test of what happens without them)
ABSENT = {"no_kvm_hw": ["kvm.hw"]}

# What CI on this kind of host may lack without that being a testing gap: a host has hardware
# virtualisation or it has not, so one of these two always skips.
CI_MAY_LACK = {"kvm_hw", "no_kvm_hw"}

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_runtest_setup(item):
    report = None
    for marker in item.iter_markers():
        checks, absent = CAPABILITIES.get(marker.name), ABSENT.get(marker.name)
        if not (checks or absent):
            continue
        report = report or host()
        for name in checks or ():
            if not report.ready(name):
                item.user_properties.append(("capability_skip", marker.name))
                pytest.skip(f"needs {marker.name}: {report.reason(name)}")
        for name in absent or ():
            if report.ready(name):
                item.user_properties.append(("capability_skip", marker.name))
                pytest.skip(f"needs a host without {name}: this one has it ({report.reason(name)})")


def _reason(longrepr) -> str:
    return longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)


def _strict_xfail(item) -> bool:
    marker = item.get_closest_marker("xfail")
    return marker is not None and bool(marker.kwargs.get("strict", item.config.getini("xfail_strict")))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not IN_CI:
        return
    if hasattr(rep, "wasxfail"):  # an xfail that may pass or fail unnoticed tests nothing
        if not _strict_xfail(item):
            rep.outcome = "failed"
            rep.longrepr = f"non-strict xfail under CI=true (use strict=True): {rep.wasxfail}"
        return
    if not rep.skipped:
        return
    allowed = any(k == "capability_skip" and v in CI_MAY_LACK for k, v in item.user_properties)
    if not allowed:
        rep.outcome = "failed"
        rep.longrepr = f"skipped under CI=true, where this host should have it: {_reason(rep.longrepr)}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """``importorskip`` or a module-level ``skip`` drops a whole file: under CI that is a failure too."""
    outcome = yield
    rep = outcome.get_result()
    if IN_CI and rep.skipped:
        rep.outcome = "failed"
        rep.longrepr = f"skipped at collection under CI=true: {_reason(rep.longrepr)}"


@pytest.fixture(scope="session", autouse=True)
def run_scope(tmp_path_factory):
    """This run's ``$TMPDIR`` and default ``$VMVC_ROOT``, in its base temp; its spawners stop at its end.

    Yields the :class:`tests.leaks.Scope` every leak check of the run uses.
    """
    from tests.leaks import Scope

    base = tmp_path_factory.getbasetemp()
    tmp = base / "tmp"
    tmp.mkdir(exist_ok=True)
    patch = pytest.MonkeyPatch()
    patch.setenv("TMPDIR", str(tmp))
    patch.setattr(tempfile, "tempdir", None)  # gettempdir() reads $TMPDIR again
    patch.setenv("VMVC_ROOT", str(base / "vmvc"))  # short: unix socket paths live below it
    scope = Scope.of(str(base), tmp=str(tmp))
    try:
        yield scope
    finally:
        _stop_spawners(scope)
        patch.undo()


def _stop_spawners(scope) -> None:
    """A test that forgot ``shutdown`` must not leave a spawner of this run behind the run."""
    from runtime.containers import Engine
    from tests.leaks import spawner_roots

    for root in spawner_roots(scope):
        if os.path.isdir(root):
            engine = Engine(root)
            engine.list()  # containers that outlived their spawner are adopted, so shutdown stops them
            engine.shutdown()


@pytest.fixture
def vmvc_root(tmp_path, monkeypatch):
    """A private engine state root (``$VMVC_ROOT``), so tests never touch /var/lib/vmvc."""
    root = tmp_path / "vmvc-root"
    root.mkdir()
    monkeypatch.setenv("VMVC_ROOT", str(root))
    return root


@pytest.fixture
def no_leaks(run_scope):
    """Snapshot what this run has on the host (mounts, cgroups, processes, temp dirs, fds); fail if it grew.

    Scoped to this run (see tests/leaks.py), so other vmvc users on the host do not count.
    """
    from tests.leaks import assert_no_leaks, snapshot

    before = snapshot(run_scope)
    yield before
    assert_no_leaks(before)


def pytest_report_header(config):
    """The doctor's table at the top of every run: what this host let the tests use."""
    report = host()
    lines = [f"vmvc doctor ({report.seconds:.2f}s):"]
    for c in report.checks:
        lines.append(f"  {c.verdict:9} {c.name:16} {c.evidence[:100]}")
    return lines
