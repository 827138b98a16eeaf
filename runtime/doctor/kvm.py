"""Is there a KVM, which module backs it, and does the CPU virtualise in hardware?

On this project's dev hosts ``/dev/kvm`` is kvm_pvm, a software KVM: it runs tiny guests but
cannot boot stock kernels, so full boots must use QEMU's TCG. The two facts are separate checks:
``kvm`` (the device answers the KVM API) and ``kvm.hw`` (hardware virtualisation for full guests).
"""

from __future__ import annotations

import fcntl
import os

from runtime.doctor.report import DEGRADED, MISSING, READY, Check
from runtime.doctor.util import path, read

KVM_GET_API_VERSION = 0xAE00
MODULES = ("kvm_intel", "kvm_amd", "kvm_pvm", "kvm_hv")


def facts(root: str) -> dict:
    flags: set[str] = set()
    for line in read(root, "proc/cpuinfo").splitlines():
        if line.startswith("flags"):
            flags = set(line.partition(":")[2].split())
            break
    modules = [m for m in MODULES if os.path.isdir(path(root, f"sys/module/{m}"))]
    return {
        "device": os.path.exists(path(root, "dev/kvm")),
        "modules": modules,
        "cpu_virt": sorted(flags & {"vmx", "svm"}),
        "under_hypervisor": "hypervisor" in flags,
    }


def api_version(device: str = "/dev/kvm") -> int | None:
    """KVM_GET_API_VERSION (12 on every KVM since 2.6.22), or None if the device does not open."""
    try:
        fd = os.open(device, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return fcntl.ioctl(fd, KVM_GET_API_VERSION)
    except OSError:
        return None
    finally:
        os.close(fd)


def hardware(info: dict) -> bool:
    """Full guests under KVM need a hardware-backed module and the CPU flag it drives."""
    return bool(info["cpu_virt"]) and any(m in info["modules"] for m in ("kvm_intel", "kvm_amd"))


def checks(root: str, api: int | None) -> list[Check]:
    info = facts(root)
    info["api_version"] = api
    module = ",".join(info["modules"]) or "no kvm module"
    flags = ",".join(info["cpu_virt"]) or "no vmx/svm"
    if not info["device"]:
        kvm = Check("kvm", "vm", MISSING, "no /dev/kvm", "load kvm_intel/kvm_amd or enable nested "
                    "virtualisation; VMs fall back to QEMU TCG", info)
    elif api is None:
        kvm = Check("kvm", "vm", MISSING, f"/dev/kvm ({module}) does not open",
                    "run as root or join the kvm group", info)
    elif hardware(info):
        kvm = Check("kvm", "vm", READY, f"/dev/kvm answers API {api}; module {module}; CPU {flags}",
                    "", info)
    else:
        kvm = Check("kvm", "vm", DEGRADED, f"/dev/kvm answers API {api}; module {module}; {flags}",
                    "a software KVM: tiny guests (pyvmm) run, full kernels boot under QEMU TCG", info)
    if hardware(info) and kvm.usable:
        hw = Check("kvm.hw", "vm", READY, f"{module} with CPU flags {flags}", "", info)
    else:
        hw = Check("kvm.hw", "vm", MISSING, f"{module}, {flags}: no hardware virtualisation",
                   "QEMU boots guests with TCG (software emulation, slower); use a host with "
                   "VT-x/AMD-V for KVM boots", info)
    return [kvm, hw]
