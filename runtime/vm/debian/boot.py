"""Boot the Debian guest through its own kernel and initrd, to ``multi-user.target``, and time it.

    >>> report = boot(machine="q35")                              # doctest: +SKIP
    >>> report.timeline.event("mark:multi-user").t                # doctest: +SKIP
    13.4

The same launcher as every other VM (``runtime.vm.qemu.run``: console read line by line, QEMU in its
own process group with PDEATHSIG, killed on timeout, error or Ctrl-C); what differs is the disk
(a per-VM overlay or copy of the cached base, see disks.py), the kernel and initrd (the guest's own,
from the cache), and the timeline (the guest's phases, see phases.py). The guest powers itself off
after vmvc's unit has reported, because the command line carries ``vmvc.poweroff=1``.

Host-side preparation (hash check of the cached image, accelerator decision, making the disk) is
timed in ``prep`` and kept out of the VM's timeline.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from runtime.errors import UsageError
from runtime.vm import accel as accel_mod
from runtime.vm import qemu
from runtime.vm.boot import BootReport
from runtime.vm.debian import build, disks, phases, recipe
from runtime.vm.debian import image as cache
from runtime.vm.kernel import Kernel

APPEND = f"root=/dev/vda rw {recipe.POWEROFF_FLAG}"
TIMEOUT = 1800.0    # a hang guard, not a budget: under TCG on a loaded 2-core host a boot took 7+ minutes
BOOT_FILES = ("base.qcow2", "vmlinuz", "initrd.img")     # what a boot reads (the tarball is for containers)


def _qemu_cpu_seconds() -> float | None:
    """User + system CPU seconds of this process's QEMU child so far (None if not found).

    On a busy host the wall time to multi-user says as much about the neighbours as about the guest;
    the emulator's own CPU time is the figure that stays comparable (TCG runs one vCPU on one thread).
    """
    import glob
    import os

    for children in glob.glob(f"/proc/{os.getpid()}/task/*/children"):
        try:
            with open(children) as f:
                pids = f.read().split()
        except OSError:
            continue
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    name, _, rest = f.read().partition(") ")
            except OSError:
                continue
            if name.endswith("(qemu-system-x86"):
                fields = rest.split()
                return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return None


@dataclass
class DebianBoot(BootReport):
    """A :class:`runtime.vm.boot.BootReport` plus the guest's image, disk and systemd's own numbers."""

    image: dict = field(default_factory=dict)
    disk: dict = field(default_factory=dict)
    systemd: phases.SystemdReport = field(default_factory=phases.SystemdReport)
    cpu_to_multi_user: float | None = None   # QEMU's CPU seconds when the marker arrived

    @property
    def multi_user(self) -> float | None:
        """Seconds from QEMU's start until vmvc's marker after multi-user.target arrived."""
        mark = self.timeline.event("mark:multi-user")
        return mark.t if mark else None

    def to_dict(self) -> dict:
        d = super().to_dict()
        d.update({"os": "debian", "memory_mb": self.timeline.info.get("memory_mb"), "image": self.image,
                  "disk": self.disk, "systemd": self.systemd.to_dict(), "multi_user_seconds": self.multi_user,
                  "systemd_milestones": phases.reached(self.timeline),
                  "qemu_cpu_seconds_to_multi_user": self.cpu_to_multi_user})
        return d


def boot(machine: str = "q35", memory_mb: int = 512, cpus: int = 1, accel: str = "auto",
         disk: str = "overlay", rec: recipe.Recipe | None = None, cache: str | None = None,
         timeout: float = TIMEOUT, stall: float | None = 120.0, on_line=None, probe=None,
         progress: build.Progress | None = None, img: cache.Image | None = None) -> DebianBoot:
    """Boot one Debian VM to multi-user.target (building the image first if it is not cached).

    ``img``: an image the caller has just built or verified (then it is not hashed again here).
    """
    if machine not in qemu.MACHINES:
        raise UsageError(f"unknown machine '{machine}' (choose {', '.join(qemu.MACHINES)})")
    if disk not in disks.MODES:
        raise UsageError(f"unknown disk mode '{disk}' (choose {', '.join(disks.MODES)})")
    rec = rec or recipe.make()
    prep: dict[str, float] = {}
    built = False
    if img is None:
        t = time.perf_counter()
        img, built = build.build(rec, cache, progress=progress or build._quiet, needs=BOOT_FILES)
        prep["image_build" if built else "image_verify"] = time.perf_counter() - t
    t = time.perf_counter()
    decision = accel_mod.decide(accel, probe) if probe else accel_mod.decide(accel)
    prep["accel"] = time.perf_counter() - t
    cpu: list[float | None] = []

    def watch(line) -> None:
        if not cpu and line.text.find(f"{recipe.MARK} multi-user") >= 0:
            cpu.append(_qemu_cpu_seconds())
        if on_line:
            on_line(line)

    t = time.perf_counter()
    with disks.vm_disk(img, disk, cache) as vm_disk:
        prep["disk"] = time.perf_counter() - t
        spec = qemu.Spec(img.path("vmlinuz"), img.path("initrd.img"), machine, decision.accel, memory_mb,
                         cpus, append=APPEND, extra=vm_disk.drive_args(machine))
        result = qemu.run(spec, timeout=timeout, stall=stall, on_line=watch,
                          booted=f"{recipe.MARK} multi-user")
    old = result.timeline
    timeline, systemd = phases.build(result.lines, old.events[-1].t, old.wall, peak_rss=old.peak_rss,
                                     peak_pss=old.peak_pss, samples=old.samples, info=old.info)
    timeline.info.update({"accel_reason": decision.reason, "kernel_entry": "bzimage", "os": "debian",
                          "disk": disk})
    if timeline.event("mark:multi-user") is None:
        last = result.lines[-1].text[:160] if result.lines else "(no output)"
        raise qemu.BootError(f"the guest powered off without reaching multi-user.target "
                             f"(last stage: {timeline.events[-2].name}); last line: {last}", result.lines)
    kernel = Kernel(img.path("vmlinuz"), img.manifest["sha256"]["vmlinuz"], img.manifest["kernel"], "guest",
                    "linux-image-cloud-amd64")
    return DebianBoot(timeline, decision, kernel, result.command, result.lines, prep,
                      img.manifest["bytes"]["initrd.img"], "", 0,
                      image={"key": img.key, "built_now": built, **img.manifest["recipe"],
                             "os_release": img.manifest["os_release"]},
                      disk={"mode": disk, "bytes_at_start": vm_disk.bytes_at_start,
                            "bytes_at_end": vm_disk.bytes_at_end},
                      systemd=systemd, cpu_to_multi_user=cpu[0] if cpu else None)
