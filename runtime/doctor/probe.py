"""Run every probe and gather a :class:`Report`; the one entry point other parts call."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from runtime.doctor import cgroups, isolation, kvm, rootless, seccomp, system, tools
from runtime.doctor.report import Report

_cached: Report | None = None


def probe(root: str = "/", active: bool = True, sys_=None) -> Report:
    """Probe the host (or a fake tree under ``root``).

    ``active`` tries things for real (fork+unshare, an overlay mount, the KVM ioctl, running tools);
    unit tests pass ``active=False`` with a fake tree and get the file-based checks only.
    """
    start = time.monotonic()
    checks = [system.os_check(root), system.root_check() if active else system.root_check(0),
              system.python_check()]
    results: dict = {"ns": {}, "overlay": "not tried"}
    if active and checks[0].data["linux"]:
        if sys_ is None:
            from runtime.linux.syscalls import syscalls
            sys_ = syscalls()
        # Fork before any thread exists: forking a threaded process is unsafe.
        results = isolation.try_in_child(sys_)
        checks.append(seccomp.check(root, True, sys_))  # H3 (issue 10): forks too, before any thread
        checks.append(rootless.check(root, True, sys_))  # forks too (as the user it asks for)
    if results["ns"]:
        checks += isolation.namespace_checks(results)
    checks.append(isolation.userns_check(root, results))
    checks.append(isolation.overlay_check(root, results))
    checks.append(cgroups.check(root))
    checks += kvm.checks(root, kvm.api_version() if active else None)
    if active:
        with ThreadPoolExecutor(max_workers=8) as pool:
            futures = [pool.submit(tools.qemu_check), pool.submit(tools.busybox_check)]
            futures += [pool.submit(tools.tool_check, name) for name in tools.TOOLS]
            checks += [f.result() for f in futures]
    return Report(checks, time.monotonic() - start)


def host() -> Report:
    """The real host's report, probed once per process."""
    global _cached
    if _cached is None:
        _cached = probe()
    return _cached
