"""What goes into the Debian guest: release, packages, vmvc's units, and the content key of all that.

Why a recipe object: the cache is keyed by *what was asked for*, so a second build of the same recipe
is a lookup, and any change (a package, a line of the unit) is a new image, never a stale one.

The packages, beyond Debian's ``minbase`` (dpkg, apt, coreutils, …):

* ``systemd-sysv``, ``udev``: the init system and device manager every installed Debian runs;
* ``linux-image-cloud-amd64``, ``initramfs-tools``, ``zstd``: the guest boots through its *own* kernel
  and an initrd made inside the guest by its own tools (zstd is the initrd's compressor);
* ``openssh-server`` and ``cron``: the two services nearly every server runs; small (~6 MB together),
  and they make systemd start real daemons, not just targets. (The host keys are generated at build
  time, so every VM from one image shares them: fine for a measurement, not for production.)

vmvc's own part is one unit, ``vmvc-report.service``, ordered after ``multi-user.target``: it prints
``VMVC-MARK multi-user <uptime>`` on the console the moment the target is reached, waits until
systemd says the boot has finished, prints what ``systemd-analyze`` knows (``time``, ``blame`` and the
targets' own monotonic timestamps) as ``VMVC-DATA`` lines, and powers the guest off when the kernel
command line has ``vmvc.poweroff=1``. It is ``Type=simple`` so that its job completes when it starts:
the boot can finish while it waits for the boot to finish.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

DEFAULT_RELEASE = "bookworm"
BASE_PACKAGES = ("systemd-sysv", "udev", "linux-image-cloud-amd64", "initramfs-tools", "zstd")
SERVICES = ("openssh-server", "cron")
DEFAULT_SIZE = "2G"
RECIPE_VERSION = 1           # bump when the build steps change in a way the texts below do not show
MARK = "VMVC-MARK"
DATA = "VMVC-DATA"
POWEROFF_FLAG = "vmvc.poweroff=1"
BLAME_LINES = 15

REPORT_SCRIPT = f"""#!/bin/sh
# vmvc: mark multi-user.target on the serial console, then report what systemd measured.
say() {{ printf '%s\\n' "$*" > /dev/console; }}
say "{MARK} multi-user $(cut -d' ' -f1 /proc/uptime)"
systemctl is-system-running --wait >/dev/null 2>&1
say "{MARK} boot-finished $(cut -d' ' -f1 /proc/uptime)"
say "{DATA} os $(. /etc/os-release; echo "$PRETTY_NAME")"
systemd-analyze time 2>&1 | head -n 3 | while IFS= read -r l; do say "{DATA} time $l"; done
# one systemctl call each (every call costs seconds under emulation)
systemctl show -p KernelTimestampMonotonic -p InitRDTimestampMonotonic -p UserspaceTimestampMonotonic \\
    -p FinishTimestampMonotonic | while IFS== read -r k v; do say "{DATA} manager $k $v"; done
targets="sysinit.target basic.target multi-user.target"
{{ systemctl show -p Id -p ActiveEnterTimestampMonotonic $targets; echo; }} |
  while IFS== read -r k v; do
    case "$k" in
      Id) id=$v ;;
      ActiveEnterTimestampMonotonic) at=$v ;;
      "") [ -n "$id" ] && say "{DATA} unit $id $at"; id= ; at= ;;
    esac
  done
systemd-analyze blame --no-pager 2>&1 | head -n {BLAME_LINES} |
  while IFS= read -r l; do say "{DATA} blame $l"; done
say "{MARK} report $(cut -d' ' -f1 /proc/uptime)"
if grep -qw '{POWEROFF_FLAG}' /proc/cmdline; then sync; systemctl poweroff --force --force; fi
"""

REPORT_UNIT = """[Unit]
Description=vmvc: mark multi-user.target on the console and report systemd's boot times
After=multi-user.target

[Service]
Type=simple
ExecStart=/usr/local/sbin/vmvc-report

[Install]
WantedBy=multi-user.target
"""

FSTAB = "LABEL=root / ext4 rw,errors=remount-ro 0 1\n"
HOSTNAME = "vmvc-debian\n"

PACKAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")


@dataclass(frozen=True)
class Recipe:
    release: str = DEFAULT_RELEASE
    extra: tuple[str, ...] = field(default=SERVICES)
    size: str = DEFAULT_SIZE

    @property
    def packages(self) -> list[str]:
        return sorted(set(BASE_PACKAGES) | set(self.extra))

    def files(self) -> dict[str, tuple[str, int]]:
        """Files written into the rootfs before the kernel is installed: path -> (text, mode)."""
        return {"/usr/local/sbin/vmvc-report": (REPORT_SCRIPT, 0o755),
                "/etc/systemd/system/vmvc-report.service": (REPORT_UNIT, 0o644),
                "/etc/fstab": (FSTAB, 0o644), "/etc/hostname": (HOSTNAME, 0o644)}

    def key(self) -> str:
        """The content key: 16 hex digits of the sha256 of everything that decides the image's bytes."""
        body = json.dumps({"release": self.release, "packages": self.packages, "size": self.size,
                           "files": self.files(), "version": RECIPE_VERSION}, sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        return {"release": self.release, "packages": self.packages, "size": self.size, "key": self.key()}


def size_bytes(size: str) -> int:
    """``2G``, ``1500M``, ``4096K`` or plain bytes."""
    m = re.fullmatch(r"(\d+)([KMGT]?)i?B?", size.strip(), re.I)
    if not m:
        raise ValueError(f"invalid size '{size}' (use e.g. 2G or 1500M)")
    return int(m.group(1)) * 1024 ** " KMGT".index(m.group(2).upper() or " ")


def make(release: str = DEFAULT_RELEASE, packages: list[str] | None = None,
         size: str = DEFAULT_SIZE) -> Recipe:
    """A validated recipe; ``packages`` replace the default services (the base set is always there)."""
    from runtime.errors import UsageError

    if not re.fullmatch(r"[a-z][a-z0-9-]*", release or ""):
        raise UsageError(f"invalid release name '{release}'")
    extra = tuple(SERVICES if packages is None else packages)
    bad = [p for p in extra if not PACKAGE_NAME.match(p)]
    if bad:
        raise UsageError(f"invalid package name '{bad[0]}'")
    try:
        if size_bytes(size) < 512 * 2**20:
            raise UsageError(f"--size {size} is too small for a Debian guest (at least 512M)")
    except ValueError as e:
        raise UsageError(str(e)) from None
    return Recipe(release, tuple(sorted(set(extra))), size)
