"""vmvc's container limits on a real pure-cgroup-v2 kernel: the Debian guest runs vmvc and reports.

Why a guest: this host is hybrid (v1 carries the controllers; its v2 mount has none), so the v2
backend could only be unit-tested on a fake cgroupfs. The Debian guest boots its own kernel with
``systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all``: one cgroup2 mount with every controller,
managed by systemd, as on a modern distro. vmvc runs there through its real CLI and spawner.

How, in three parts:

* the image (:func:`image`) is *derived* from the default Debian image (built and cached by the
  full-OS VM work, see :mod:`runtime.vm.debian.build`): its rootfs tarball is unpacked, the packages
  vmvc needs are installed from Debian with apt in a chroot (:data:`PACKAGES`: python3 with psutil,
  rich and pytest, busybox-static for the busybox image, crun as an anchor), and a unit is enabled
  that runs the checks after ``multi-user.target``. Deriving took ~1 min here, a fresh mmdebstrap ~6
  (the base image's own). It is cached under
  ``<osimages>/v2check/<key>``, keyed by the base image's key and everything added here;
* vmvc's own source goes in per run on a second small disk (``mke2fs -d``, label ``vmvcsrc``): the
  checkout's ``runtime/``, ``tests/`` and ``pyproject.toml``, so editing vmvc never rebuilds the image;
* the guest's unit mounts that disk read-only, runs ``tests/cgroups_v2_guest/guest.py`` (which
  prints one ``VMVC-V2 {json}`` line per check on the serial console: vmvc's CLI driven by hand, then
  the project's own limit and cgroup tests under pytest) and powers off. :func:`run`
  boots it under the decided accelerator and parses the lines.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field

from runtime.vm import accel as accel_mod
from runtime.vm import qemu
from runtime.vm.debian import build, disks, recipe
from runtime.vm.debian import image as cache
from runtime.vm.kernel import sha256_of

PACKAGES = ("python3", "python3-psutil", "python3-rich", "python3-pytest", "python3-pytest-timeout",
            "busybox-static", "crun")
VERSION = 1                      # bump when the derivation steps change in a way the texts do not show
SUBDIR = "v2check"
SRC_LABEL = "vmvcsrc"
LINE = "VMVC-V2"                 # "VMVC-V2 {json}" per check; "VMVC-V2-START", "VMVC-V2-EXIT <rc>"
GUEST_SCRIPT = "tests/cgroups_v2_guest/guest.py"
APPEND = ("root=/dev/vda rw systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all loglevel=3 "
          "systemd.mask=vmvc-report.service systemd.mask=serial-getty@ttyS0.service")
FILES = ("base.qcow2", "vmlinuz", "initrd.img")

RUNNER = f"""#!/bin/sh
# vmvc: run the container limit checks from the source disk, report on the console, power off.
exec > /dev/console 2>&1
echo "{LINE}-START $(cut -d' ' -f1 /proc/uptime)"
mkdir -p /mnt/vmvc
if mount -o ro,noload LABEL={SRC_LABEL} /mnt/vmvc; then
  cd /mnt/vmvc && PYTHONPATH=/mnt/vmvc PYTHONDONTWRITEBYTECODE=1 timeout 1500 python3 {GUEST_SCRIPT}
  echo "{LINE}-EXIT $?"
else
  echo "{LINE}-EXIT no source disk labelled {SRC_LABEL}"
fi
sync
systemctl poweroff --force --force
"""

UNIT = """[Unit]
Description=vmvc: container limit checks on a pure cgroup v2 kernel
After=multi-user.target

[Service]
Type=simple
ExecStart=/usr/local/sbin/vmvc-v2check

[Install]
WantedBy=multi-user.target
"""

INSTALL = ("set -e; mount -t proc proc \"$0/proc\"; mount --bind /dev \"$0/dev\"; "
           "export DEBIAN_FRONTEND=noninteractive; chroot \"$0\" apt-get update -q; "
           "chroot \"$0\" apt-get install -q -y --no-install-recommends \"$@\"; "
           "chroot \"$0\" apt-get clean; rm -rf \"$0\"/var/lib/apt/lists/*")


def key(base_key: str) -> str:
    body = json.dumps({"base": base_key, "packages": PACKAGES, "runner": RUNNER, "unit": UNIT,
                       "install": INSTALL, "version": VERSION}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def cache_dir(cache_root: str | None = None) -> str:
    return cache.cache_dir(os.path.join(cache.cache_dir(cache_root), SUBDIR))


def image(cache_root: str | None = None, progress: build.Progress = build._quiet) -> tuple[cache.Image, bool]:
    """The derived image (built now if it is not cached, and the base image first if need be)."""
    base, _ = build.build(recipe.make(), cache_root, progress=progress)
    rec = recipe.make()
    k = key(base.key)
    where = cache_dir(cache_root)
    cache.sweep_stale(where)
    existing = cache.lookup(k, where)
    if existing is not None:
        try:
            return cache.verify(existing, FILES), False
        except cache.Corrupted as e:
            progress("verify", f"{e}: rebuilding")
            cache.remove(k, where)
    work = tempfile.mkdtemp(prefix=f".build-{os.getpid()}-", dir=where)
    try:
        manifest = _derive(base, k, rec, work, where, progress)
        os.rename(work, cache.entry(k, where))
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return cache.Image(cache.entry(k, where), manifest), True


def _derive(base: cache.Image, k: str, rec: recipe.Recipe, work: str, where: str,
            progress: build.Progress) -> dict:
    timings: dict[str, float] = {}
    root = os.path.join(work, "root")
    os.makedirs(root)

    def stage(name: str, cmd: list[str]) -> None:
        progress(name, "")
        t = time.perf_counter()
        build.run_tool(cmd, rec, where, lambda line: progress(name, line))
        timings[name] = time.perf_counter() - t

    stage("unpack base rootfs", ["tar", "--numeric-owner", "-xpf", base.path("rootfs.tar"), "-C", root])
    shutil.copyfile("/etc/resolv.conf", os.path.join(root, "etc/resolv.conf"))
    # A private mount namespace: /proc and /dev in the chroot vanish with apt's last process.
    stage("apt-get install", ["unshare", "--mount", "--propagation", "private", "sh", "-c", INSTALL, root,
                              *PACKAGES])
    for path, (text, mode) in {"usr/local/sbin/vmvc-v2check": (RUNNER, 0o755),
                               "etc/systemd/system/vmvc-v2check.service": (UNIT, 0o644)}.items():
        with open(os.path.join(root, path), "w") as f:
            f.write(text)
        os.chmod(os.path.join(root, path), mode)
    os.symlink("/etc/systemd/system/vmvc-v2check.service",
               os.path.join(root, "etc/systemd/system/multi-user.target.wants/vmvc-v2check.service"))
    for name in ("vmlinuz", "initrd.img"):
        shutil.copyfile(build._newest(os.path.join(root, f"boot/{name}-*")), os.path.join(work, name))
    raw = os.path.join(work, "disk.raw")
    stage("ext4 disk (mke2fs -d)",
          ["mke2fs", "-q", "-F", "-t", "ext4", "-L", "root", "-d", root, raw, rec.size])
    shutil.rmtree(root)
    stage("qcow2 base (qemu-img)", ["qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw,
                                    os.path.join(work, "base.qcow2")])
    os.unlink(raw)
    manifest = {"recipe": {"key": k, "derived_from": base.key, "packages": list(PACKAGES), "size": rec.size},
                "kernel": base.manifest["kernel"], "os_release": base.manifest["os_release"],
                "seconds": timings, "built": time.time(),
                "bytes": {name: build.allocated(os.path.join(work, name)) for name in FILES},
                "sha256": {name: sha256_of(os.path.join(work, name)) for name in FILES}}
    with open(os.path.join(work, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    return manifest


def source_disk(checkout: str, directory: str) -> str:
    """A small raw ext4 image of the checkout's ``runtime/``, ``tests/`` and ``pyproject.toml`` (~3 MB),
    labelled ``vmvcsrc``."""
    tree = os.path.join(directory, "src")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for part in ("runtime", "tests"):
        shutil.copytree(os.path.join(checkout, part), os.path.join(tree, part), ignore=ignore)
    shutil.copyfile(os.path.join(checkout, "pyproject.toml"), os.path.join(tree, "pyproject.toml"))
    path = os.path.join(directory, "src.img")
    build.run_tool(["mke2fs", "-q", "-F", "-t", "ext4", "-L", SRC_LABEL, "-d", tree, path, "64M"],
                   recipe.make(), directory)
    shutil.rmtree(tree)
    return path


@dataclass
class Report:
    """What the guest said: one dict per check (``check``, ``ok``, evidence), and how it ended."""

    checks: list[dict] = field(default_factory=list)
    exit: str | None = None          # the guest script's exit status, as the runner printed it
    console: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    image: dict = field(default_factory=dict)

    def check(self, name: str) -> dict | None:
        return next((c for c in self.checks if c.get("check") == name), None)

    @property
    def failed(self) -> list[dict]:
        return [c for c in self.checks if not c.get("ok")]

    def to_dict(self) -> dict:
        return {"checks": self.checks, "exit": self.exit, "seconds": self.seconds, "image": self.image}


def parse(lines: list[str]) -> Report:
    """The guest's ``VMVC-V2`` lines (anywhere in a console line; a garbled one becomes a failed check)."""
    report = Report(console=list(lines))
    for text in lines:
        at = text.find(f"{LINE} ")
        if at >= 0:
            payload = text[at + len(LINE) + 1:].strip()
            try:
                report.checks.append(json.loads(payload))
            except ValueError:
                report.checks.append({"check": "garbled", "ok": False, "line": payload[:200]})
        at = text.find(f"{LINE}-EXIT ")
        if at >= 0:
            report.exit = text[at + len(LINE) + 6:].strip()
    return report


def run(checkout: str, cache_root: str | None = None, accel: str = "auto", memory_mb: int = 1024,
        cpus: int = 2, timeout: float = 2100.0, progress: build.Progress = build._quiet,
        on_line=None) -> Report:
    """Boot the derived image with ``checkout``'s vmvc on a second disk; the guest's report."""
    seconds: dict[str, float] = {}
    t = time.perf_counter()
    img, built = image(cache_root, progress)
    seconds["image_build" if built else "image_verify"] = time.perf_counter() - t
    decision = accel_mod.decide(accel)
    with disks.vm_disk(img, "overlay", cache_dir(cache_root)) as disk:
        src = source_disk(checkout, os.path.dirname(disk.path))
        spec = qemu.Spec(img.path("vmlinuz"), img.path("initrd.img"), "q35", decision.accel, memory_mb, cpus,
                         append=APPEND,
                         extra=[*disk.drive_args("q35"), "-drive",
                                f"file={src},format=raw,if=none,id=src,readonly=on",
                                "-device", "virtio-blk-pci,drive=src"])
        t = time.perf_counter()
        # a boot that stops printing is hung (600 s: a loaded host's TCG boot took 130 s); after the
        # start line the guest may work silently (pytest) until the runner's own timeout
        result = qemu.run(spec, timeout=timeout, stall=600.0, on_line=on_line, booted=f"{LINE}-START")
        seconds["guest"] = time.perf_counter() - t
    report = parse([ln.text for ln in result.lines])
    report.seconds = seconds
    report.image = {"key": img.key, "built_now": built, "accel": decision.accel,
                    "accel_reason": decision.reason, **img.manifest["recipe"]}
    return report
