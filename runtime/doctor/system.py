"""OS, kernel, Python and privileges: read from files under a root, so fake trees can stand in."""

from __future__ import annotations

import os
import platform
import sys

from runtime.doctor.report import DEGRADED, MISSING, READY, Check
from runtime.doctor.util import read


def os_check(root: str) -> Check:
    fields = {}
    for line in read(root, "etc/os-release").splitlines():
        key, _, value = line.partition("=")
        fields[key] = value.strip('"')
    kernel = read(root, "proc/sys/kernel/osrelease").strip() or platform.release()
    name = fields.get("PRETTY_NAME", platform.system())
    debian = "debian" in (fields.get("ID", "") + " " + fields.get("ID_LIKE", ""))
    linux = bool(read(root, "proc/sys/kernel/osrelease")) or sys.platform == "linux"
    verdict = READY if linux else MISSING
    advice = "" if linux else "the real parts need Linux; the simulation and notebooks still work"
    return Check("os", "system", verdict, f"{name}, kernel {kernel}", advice,
                 {"name": name, "kernel": kernel, "debian_like": debian, "linux": linux})


def root_check(euid: int | None = None) -> Check:
    euid = os.geteuid() if euid is None else euid
    if euid == 0:
        return Check("root", "system", READY, "euid 0", data={"euid": 0})
    return Check("root", "system", MISSING, f"euid {euid}",
                 "run as root (sudo) for namespaces, mounts, cgroups and KVM", {"euid": euid})


def python_check() -> Check:
    version = platform.python_version()
    ok = sys.version_info >= (3, 11)
    return Check("python", "system", READY if ok else DEGRADED, f"Python {version} at {sys.executable}",
                 "" if ok else "use Python 3.11 or newer", {"version": version})
