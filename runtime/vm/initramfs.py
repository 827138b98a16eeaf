"""A bootable initramfs written in pure Python: newc cpio + gzip, busybox-static and a timed ``/init``.

Why build it here: a VM boot is only comparable with a container start if the guest runs the very
same workload, so the guest's userspace is ours, tiny (~1 MB) and instrumented. ``/init`` prints a
marker line ``VMVC-MARK <name> <uptime>`` at every stage (``/proc/uptime``, the guest's own clock);
the launcher timestamps each line as it arrives on the serial console, and the timeline turns both
into phases. The workload is a plain shell command string run by ``busybox sh`` -- the container
engine runs the same string the same way, so VM and container do identical work.

>>> data = build("echo hello")                    # doctest: +SKIP
>>> [e.name for e in parse(data)][:3]             # doctest: +SKIP
['bin', 'dev', 'dev/console']
"""

from __future__ import annotations

import gzip
import io
import stat
import subprocess
from dataclasses import dataclass

from runtime.errors import NotFound

MARK = "VMVC-MARK"
EXIT = "VMVC-EXIT"
BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")
# The fallback when `busybox --list` does not answer.
APPLETS = ("sh", "mount", "umount", "poweroff", "cat", "echo", "true", "false", "mkdir", "sleep",
           "ls", "ip", "hostname", "mdev", "syslogd", "klogd", "crond", "httpd", "ntpd", "udhcpc",
           "uptime", "ps", "kill", "date", "dmesg", "logger", "pidof", "wc", "grep")

# A "distro-like" boot: the services a small distribution starts before its workload, each a real
# busybox daemon or setup step, started one after another like a serial init system would.
SERVICES: tuple[tuple[str, str], ...] = (
    ("devices", "mdev -s"),
    ("hostname", "hostname vmvc-guest"),
    ("loopback", "ip link set lo up"),
    ("syslogd", "syslogd -O /var/log/messages"),
    ("klogd", "klogd"),
    ("crond", "mkdir -p /var/spool/cron/crontabs && crond -c /var/spool/cron/crontabs"),
    ("httpd", "mkdir -p /var/www && echo ok > /var/www/index.html && httpd -p 127.0.0.1:80 -h /var/www"),
    ("ready-check", "logger -t vmvc services up && ps > /dev/null"),
)


@dataclass(frozen=True)
class Entry:
    """One archive member: a directory, a regular file, a symlink or a character device."""

    name: str
    mode: int
    data: bytes = b""
    rdev: tuple[int, int] = (0, 0)

    @property
    def kind(self) -> str:
        return {stat.S_IFDIR: "dir", stat.S_IFREG: "file", stat.S_IFLNK: "symlink",
                stat.S_IFCHR: "chardev"}.get(stat.S_IFMT(self.mode), "other")


def directory(name: str) -> Entry:
    return Entry(name, stat.S_IFDIR | 0o755)


def file(name: str, data: bytes, mode: int = 0o644) -> Entry:
    return Entry(name, stat.S_IFREG | mode, data)


def symlink(name: str, target: str) -> Entry:
    return Entry(name, stat.S_IFLNK | 0o777, target.encode())


def chardev(name: str, major: int, minor: int, mode: int = 0o600) -> Entry:
    return Entry(name, stat.S_IFCHR | mode, rdev=(major, minor))


def _pad4(n: int) -> bytes:
    return b"\0" * (-n % 4)


def cpio_newc(entries: list[Entry]) -> bytes:
    """The "newc" (SVR4, no CRC) cpio format the kernel unpacks an initramfs from."""
    out = io.BytesIO()
    members = [*entries, Entry("TRAILER!!!", 0)]
    for ino, e in enumerate(members, start=1):
        name = e.name.encode() + b"\0"
        fields = [ino if e.name != "TRAILER!!!" else 0, e.mode, 0, 0,
                  2 if e.kind == "dir" else 1, 0, len(e.data), 0, 0, e.rdev[0], e.rdev[1], len(name), 0]
        header = b"070701" + b"".join(b"%08X" % f for f in fields)
        out.write(header + name + _pad4(len(header) + len(name)))
        out.write(e.data + _pad4(len(e.data)))
    return out.getvalue()


def parse(data: bytes) -> list[Entry]:
    """Read a newc archive back (gzip or not): the inverse of :func:`cpio_newc`."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    entries, pos = [], 0
    while True:
        if data[pos:pos + 6] != b"070701":
            raise ValueError(f"not a newc cpio header at offset {pos}")
        f = [int(data[pos + 6 + 8 * i: pos + 14 + 8 * i], 16) for i in range(13)]
        mode, size, rmaj, rmin, namesize = f[1], f[6], f[9], f[10], f[11]
        pos += 110
        name = data[pos:pos + namesize - 1].decode()
        pos += namesize + (-(110 + namesize) % 4)
        body = data[pos:pos + size]
        pos += size + (-size % 4)
        if name == "TRAILER!!!":
            return entries
        entries.append(Entry(name, mode, body, (rmaj, rmin)))


def find_busybox() -> str:
    from runtime.doctor.tools import static_busybox

    found = static_busybox(BUSYBOX_CANDIDATES)
    if found is None:
        raise NotFound("no static busybox found (apt-get install --no-install-recommends busybox-static)")
    return found


def applets(busybox: str) -> list[str]:
    """Every applet this busybox has (as a busybox container image links them), else a core set."""
    try:
        out = subprocess.run([busybox, "--list"], capture_output=True, text=True, timeout=10).stdout.split()
    except (OSError, subprocess.SubprocessError):
        out = []
    names = sorted({a for a in out if a.isprintable() and "/" not in a and a != "busybox"})
    return names or list(APPLETS)


def init_script(services: int = 0, workload_file: str = "/workload.sh") -> str:
    """The guest's ``/init``: mount, mark, optional services, the workload, mark, power off."""
    if not 0 <= services <= len(SERVICES):
        raise ValueError(f"services must be between 0 and {len(SERVICES)}")
    lines = [
        "#!/bin/sh",
        "# vmvc guest init: every stage prints a marker with the guest's uptime.",
        f'mark() {{ read up idle < /proc/uptime 2>/dev/null; echo "{MARK} $1 ${{up:-0}}"; }}',
        "mount -t proc proc /proc",
        "mark init",
        "mount -t sysfs sysfs /sys",
        "mount -t devtmpfs devtmpfs /dev 2>/dev/null",
        "mount -t tmpfs tmpfs /tmp",
        "mark mounts",
    ]
    for name, command in SERVICES[:services]:
        lines += [f"( {command} ) >/dev/null 2>&1 || echo 'vmvc: service {name} failed'",
                  f"mark service:{name}"]
    lines += [
        "mark workload-start",
        f'sh -c "$(cat {workload_file})"',  # exactly what a container runs: sh -c STRING
        "rc=$?",
        "mark workload-done",
        f'echo "{EXIT} $rc"',
        "mark poweroff",
        "poweroff -f",
        "sleep 1000000",  # poweroff -f does not return; if it ever does, do not panic the kernel
    ]
    return "\n".join(lines) + "\n"


def entries(workload: str, services: int = 0, busybox: str | None = None,
            init: str | None = None) -> list[Entry]:
    """Everything in the archive; ``init`` replaces the generated ``/init`` (tests use a hanging one)."""
    busybox = busybox or find_busybox()
    with open(busybox, "rb") as f:
        binary = f.read()
    out = [directory(d) for d in ("bin", "dev", "etc", "proc", "sys", "tmp", "var", "var/log", "root")]
    out.append(chardev("dev/console", 5, 1))
    out.append(chardev("dev/null", 1, 3, 0o666))
    out.append(file("bin/busybox", binary, 0o755))
    out += [symlink(f"bin/{a}", "busybox") for a in applets(busybox)]
    out.append(file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"))
    out.append(file("etc/group", b"root:x:0:\n"))
    out.append(file("workload.sh", workload.encode(), 0o644))
    out.append(file("init", (init or init_script(services)).encode(), 0o755))
    return out


def build(workload: str, services: int = 0, busybox: str | None = None, init: str | None = None,
          level: int = 6) -> bytes:
    """A gzip-compressed newc initramfs, ready for ``qemu -initrd``."""
    raw = cpio_newc(entries(workload, services, busybox, init))
    return gzip.compress(raw, compresslevel=level, mtime=0)


def write(path: str, workload: str, services: int = 0, busybox: str | None = None,
          init: str | None = None) -> str:
    with open(path, "wb") as f:
        f.write(build(workload, services, busybox, init))
    return path
