"""External programs the real parts use or are measured against: QEMU, runtimes, registry, fio.

Each is found on PATH and asked its version; QEMU is also asked which machine types and
accelerators it has, since a VM boot plan depends on both.
"""

from __future__ import annotations

import re
import shutil
import struct

from runtime.doctor.report import DEGRADED, MISSING, READY, Check
from runtime.doctor.util import run

QEMU = "qemu-system-x86_64"

# name -> (argv for its version, Debian package, what it is for)
TOOLS = {
    "crun": (["crun", "--version"], "crun", "anchor: OCI runtime in C"),
    "runc": (["runc", "--version"], "runc", "anchor: OCI runtime in Go"),
    "dockerd": (["dockerd", "--version"], "docker.io", "anchor: Docker's daemon"),
    "docker": (["docker", "--version"], "docker.io", "the real docker CLI as a client of vmvc's daemon"),
    "docker-registry": (["docker-registry", "--version"], "docker-registry", "a real registry on loopback"),
    "skopeo": (["skopeo", "--version"], "skopeo", "copies images between registries and layouts"),
    "fio": (["fio", "--version"], "fio", "disk I/O workload"),
    "ip": (["ip", "-V"], "iproute2", "network namespaces and links"),
    "chromium": (["chromium", "--version"], "chromium", "headless browser: the report's page test"),
}


def first_line(text: str) -> str:
    return text.splitlines()[0].strip() if text else ""


def tool_check(name: str) -> Check:
    argv, package, purpose = TOOLS[name]
    code, out = run(argv)
    if code == -1:
        return Check(name, "tools", MISSING, out, f"apt-get install --no-install-recommends {package} "
                     f"({purpose})", {"package": package})
    version = first_line(out)
    return Check(name, "tools", READY if code == 0 else DEGRADED, f"{shutil.which(argv[0])}: {version}",
                 "" if code == 0 else f"{argv[0]} exited {code}", {"version": version, "package": package,
                                                                  "path": shutil.which(argv[0])})


def elf_is_static(path: str) -> bool | None:
    """True when an ELF file has no PT_INTERP (no dynamic loader): it runs in an empty rootfs."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if head[:4] != b"\x7fELF" or head[4] != 2:
                return None
            phoff, = struct.unpack_from("<Q", head, 32)
            phentsize, phnum = struct.unpack_from("<HH", head, 54)
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except OSError:
        return None
    return all(struct.unpack_from("<I", table, i * phentsize)[0] != 3 for i in range(phnum))


def static_busybox(candidates) -> str | None:
    """The first of ``candidates`` that is a static busybox (runs inside an empty rootfs or an
    initramfs), judged by its ELF program headers; None when there is none."""
    return next((c for c in candidates if c and elf_is_static(c)), None)


def busybox_check() -> Check:
    candidate = static_busybox(("/bin/busybox", "/usr/bin/busybox", shutil.which("busybox")))
    if candidate:
        code, out = run([candidate])
        version = first_line(out)
        return Check("busybox", "tools", READY, f"{candidate}: static, {version}",
                     data={"path": candidate, "version": version})
    found = shutil.which("busybox")
    if found:
        return Check("busybox", "tools", DEGRADED, f"{found} is dynamically linked",
                     "apt-get install busybox-static (a static busybox runs inside an empty rootfs)",
                     {"path": found})
    return Check("busybox", "tools", MISSING, "no busybox binary",
                 "apt-get install --no-install-recommends busybox-static")


def parse_machines(text: str) -> list[str]:
    names = []
    for line in text.splitlines()[1:]:
        if line.strip():
            names.append(line.split()[0])
    return names


def parse_accels(text: str) -> list[str]:
    return [w.strip() for w in text.splitlines()[1:] if w.strip()]


def qemu_check() -> Check:
    code, out = run([QEMU, "--version"])
    if code != 0:
        return Check("qemu", "vm", MISSING, out or f"{QEMU} failed",
                     "apt-get install --no-install-recommends qemu-system-x86")
    version = re.search(r"version (\S+)", out)
    _, machines_out = run([QEMU, "-machine", "help"])
    _, accels_out = run([QEMU, "-accel", "help"])
    machines = parse_machines(machines_out)
    accels = parse_accels(accels_out)
    wanted = [m for m in ("microvm", "pc", "q35") if m in machines]
    data = {"path": shutil.which(QEMU), "version": version.group(1) if version else first_line(out),
            "machines": machines, "accels": accels, "boot_machines": wanted}
    evidence = f"{data['version']}; machines {','.join(wanted) or 'none of microvm/pc/q35'}; " \
               f"accels {','.join(accels)}"
    if "tcg" not in accels or not wanted:
        return Check("qemu", "vm", DEGRADED, evidence, "a QEMU with TCG and microvm/pc/q35 is needed", data)
    return Check("qemu", "vm", READY, evidence, "", data)
