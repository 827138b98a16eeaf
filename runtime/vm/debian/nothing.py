""""Create from nothing", the tutorial's minutes: the whole path to a running Debian, for each side.

* VM: build the image (mmdebstrap → kernel + initrd → ext4 → qcow2; skipped when ``cold`` is false and
  it is cached), verify it, make the VM's overlay, boot to ``multi-user.target`` (vmvc's marker);
* container: import the same userland into the image store (what a ``docker pull``/``import`` does),
  then start a container of it running ``cat /etc/os-release``; the first start includes starting
  vmvc's spawner (docker's daemon would already run), so a second start is timed too.

The userland itself (mmdebstrap's part) is common to both sides; the build's stage times are kept so
a reader can see it: ``vm.build_stages``. Everything is named: machine, memory, accelerator and why.

>>> from_nothing(cold=False)["vm"]["total"]      # doctest: +SKIP
31.2
"""

from __future__ import annotations

import time

from runtime.errors import NotFound
from runtime.vm.debian import boot as debian_boot
from runtime.vm.debian import build, container, recipe

WORKLOAD = ["cat", "/etc/os-release"]


def from_nothing(cold: bool = True, machine: str = "q35", memory_mb: int = 512, accel: str = "auto",
                 rec: recipe.Recipe | None = None, cache: str | None = None, tag: str = container.DEFAULT_TAG,
                 progress: build.Progress | None = None, on_line=None,
                 timeout: float = debian_boot.TIMEOUT) -> dict:
    """Seconds for each side's whole path; ``cold`` rebuilds the VM image from the Debian archive."""
    rec = rec or recipe.make()
    progress = progress or build._quiet
    vm: dict = {"cold": cold}
    t = time.perf_counter()
    img, built = build.build(rec, cache, force=cold, progress=progress)
    vm["build_seconds"] = time.perf_counter() - t if built else 0.0
    vm["build_stages"] = img.manifest["seconds"] if built else {}
    progress("boot", f"{machine}, {memory_mb} MiB")
    report = debian_boot.boot(machine, memory_mb, accel=accel, rec=rec, cache=cache, on_line=on_line,
                              timeout=timeout)
    vm["prep_seconds"] = report.prep
    vm["boot_to_multi_user"] = report.multi_user
    vm["wall_to_poweroff"] = report.timeline.wall
    after_build = sum(report.prep.values()) + report.multi_user
    vm["from_cached_image"] = after_build
    vm["total"] = vm["build_seconds"] + after_build
    ct: dict = {}
    progress("container", f"import {tag}")
    from runtime.containers import Engine
    from runtime.images import open_store

    try:
        open_store().remove(tag, force=True)      # a real import, not a no-op on a present tag
    except NotFound:
        pass
    exported = container.export(img, tag)
    ct["import_seconds"] = exported["import_seconds"]
    ct["verify_seconds"] = exported["verify_seconds"]
    progress("container", f"start {tag}")
    eng = Engine()
    try:
        first = container.run_once(tag, WORKLOAD, eng)
        warm = container.run_once(tag, WORKLOAD, eng)
    finally:
        eng.shutdown()
    ct["first_start_seconds"], ct["warm_start_seconds"] = first["seconds"], warm["seconds"]
    ct["os_release"] = next((ln.split("=", 1)[1].strip('"') for ln in first["stdout"].splitlines()
                             if ln.startswith("PRETTY_NAME=")), "")
    ct["total"] = ct["verify_seconds"] + ct["import_seconds"] + ct["first_start_seconds"]
    return {"vm": vm, "container": ct, "machine": machine, "memory_mb": memory_mb,
            "accel": report.decision.accel, "accel_reason": report.decision.reason, "image": report.image,
            "vm_os_release": report.systemd.os, "ratio_vm_to_container": vm["total"] / ct["total"]}
