"""Where a full Debian boot's time goes: the guest's own phases, from its own console messages.

The generic timeline (``runtime.vm.timeline``) ends at ``/init``. A Debian guest goes on, and says so
on the serial console -- each boundary below is the *arrival* (host clock) of the first line that shows
it, in boot order:

=====================  ============================================================================
event                  evidence on the console
=====================  ============================================================================
init                   ``Run /init as init process`` (the kernel starts the initrd's ``/init``)
initrd-root            ``Begin: Mounting root file system`` (initramfs-tools: drivers loaded, udev
                       settled, premount scripts done)
root-mounted           ``EXT4-fs (vda): mounted filesystem`` (fsck and the mount of the real root)
systemd                ``systemd[1]: systemd NNN running in system mode`` (after ``switch_root``)
sysinit                ``Reached target sysinit.target`` / ``… System Initialization``
basic                  ``Reached target basic.target`` / ``… Basic System``
multi-user             ``Reached target multi-user.target`` / ``… Multi-User System``
mark:multi-user        ``VMVC-MARK multi-user`` (vmvc's unit, ordered after multi-user.target)
mark:boot-finished     ``VMVC-MARK boot-finished`` (systemd's job queue ran empty)
mark:report            ``VMVC-MARK report`` (``systemd-analyze`` output sent)
=====================  ============================================================================

Status lines are shortened with an ellipsis to the console width, so targets are matched by unit name
*or* description. systemd stops printing status once a getty takes over the serial console; a target
reached after that is placed by systemd's own timestamp, counted back from vmvc's marker (source
``systemd`` instead of ``console``). The guest's own clock is attached where systemd gives it: the targets'
``ActiveEnterTimestampMonotonic`` and the manager's timestamps, reported by vmvc's unit as
``VMVC-DATA`` lines, together with ``systemd-analyze time`` and ``blame``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from runtime.vm import timeline as tl
from runtime.vm.debian.recipe import DATA

GUEST_EVENTS = (
    ("initrd-root", re.compile(r"Begin: Mounting root file system")),
    ("root-mounted", re.compile(r"EXT4-fs \(\w+\): mounted filesystem")),
    ("systemd", re.compile(r"systemd\[1\]: systemd \S+ running in system mode")),
    ("sysinit", re.compile(r"Reached target.*(sysinit\.target|System Initialization)")),
    ("basic", re.compile(r"Reached target.*(basic\.target|Basic System)")),
    ("multi-user", re.compile(r"Reached target.*(multi-user\.target|Multi-User System)")),
)
TARGET_UNITS = {"sysinit": "sysinit.target", "basic": "basic.target", "multi-user": "multi-user.target"}
LABELS = {"initrd-root": "initrd: drivers, udev, premount", "root-mounted": "initrd: fsck + root mount",
          "systemd": "initrd: bottom + switch_root to systemd", "sysinit": "systemd: to sysinit.target",
          "basic": "systemd: sysinit → basic.target", "multi-user": "systemd: basic → multi-user.target",
          "mark:multi-user": "vmvc unit starts (marker)", "mark:boot-finished": "remaining boot jobs",
          "mark:report": "systemd-analyze report", "exit": "poweroff + qemu exit"}
SPAN = re.compile(r"(?:(\d+)min\s*)?(?:(\d+(?:\.\d+)?)(s|ms|us)\b)?")


@dataclass
class SystemdReport:
    """What systemd itself measured, as vmvc's unit reported it over the console."""

    time: list[str] = field(default_factory=list)          # systemd-analyze time
    blame: list[tuple[str, float]] = field(default_factory=list)   # (unit, seconds), slowest first
    manager: dict[str, float] = field(default_factory=dict)  # Kernel/InitRD/Userspace/Finish, seconds
    units: dict[str, float] = field(default_factory=dict)    # target -> ActiveEnter, guest seconds
    os: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def span_seconds(text: str) -> float | None:
    """systemd's time spans: ``1min 2.345s``, ``873ms``, ``12us``, ``4.001s``."""
    text = text.strip()
    m = SPAN.fullmatch(text)
    if not m or not text:
        return None
    minutes, value, unit = m.groups()
    seconds = float(minutes or 0) * 60
    if value:
        seconds += float(value) * {"s": 1, "ms": 1e-3, "us": 1e-6}[unit]
    return seconds


def systemd_report(lines: list[tl.Line]) -> SystemdReport:
    report = SystemdReport()
    for ln in lines:
        if not ln.text.startswith(DATA + " "):
            continue
        kind, _, rest = ln.text[len(DATA) + 1:].partition(" ")
        if kind == "time" and rest.strip():
            report.time.append(rest.strip())
        elif kind == "blame":
            m = re.match(r"\s*((?:\d+min\s*)?\d+(?:\.\d+)?(?:s|ms|us))\s+(\S+)", rest)
            if m and span_seconds(m.group(1)) is not None:
                report.blame.append((m.group(2), span_seconds(m.group(1))))
        elif kind in ("manager", "unit"):
            name, _, value = rest.partition(" ")
            if value.strip().isdigit():
                (report.manager if kind == "manager" else report.units)[name] = int(value) / 1e6
        elif kind == "os":
            report.os = rest.strip()
    return report


def events(lines: list[tl.Line], exit_t: float, report: SystemdReport | None = None) -> list[tl.Event]:
    """The generic boundaries up to ``/init``, then the guest's, then vmvc's markers and the exit."""
    base = tl.events(lines, exit_t)
    head = [e for e in base if not e.name.startswith("mark:") and e.name != "exit"]
    marks = [e for e in base if e.name.startswith("mark:")]
    init = next((e for e in head if e.name == "init"), None)
    start = init.t if init else 0.0
    report = report or systemd_report(lines)
    anchor = next((e for e in marks if e.name == "mark:multi-user" and e.guest is not None), None)
    guest = []
    for name, needle in GUEST_EVENTS:
        hit = next((ln for ln in lines if ln.t >= start and needle.search(ln.text)
                    and not ln.text.startswith(DATA)), None)
        unit = report.units.get(TARGET_UNITS.get(name, ""))
        if hit is not None:
            clock = unit if unit is not None else tl.printk_time(hit.text)
            guest.append(tl.Event(name, hit.t, "console", clock))
        elif unit is not None and anchor is not None:
            # systemd stops its status lines once a getty owns the console: place the target by its own
            # clock, counted back from vmvc's marker (whose guest uptime is known) -- an estimate.
            guest.append(tl.Event(name, anchor.t - max(0.0, anchor.guest - unit), "systemd", unit))
    found = head + guest + marks + [base[-1]]
    for prev, cur in zip(found, found[1:], strict=False):
        if cur.t < prev.t:
            cur.t, cur.clamped = prev.t, True
    return found


def label(prev: tl.Event, cur: tl.Event) -> str:
    if cur.name in LABELS and not (cur.name == "exit" and prev.name != "mark:report"):
        return LABELS[cur.name]
    return tl.label(prev, cur)


def own_lines(lines: list[tl.Line]) -> list[tl.Line]:
    """vmvc's lines can share a console line with a status message systemd redrew with ``\r``: cut
    whatever precedes ``VMVC-``, so every marker starts its line."""
    out = []
    for ln in lines:
        cut = ln.text.find("VMVC-")
        out.append(tl.Line(ln.t, ln.text[cut:]) if cut > 0 else ln)
    return out


def build(lines: list[tl.Line], exit_t: float, wall: float, **extra) -> tuple[tl.Timeline, SystemdReport]:
    """The Debian timeline (consecutive phases, summing to the wall time) and systemd's own report."""
    lines = own_lines(lines)
    report = systemd_report(lines)
    evts = events(lines, exit_t, report)
    phases = [tl.Phase(label(a, b), a.t, b.t, a.name, b.name, b.source, b.guest)
              for a, b in zip(evts, evts[1:], strict=False)]
    return tl.Timeline(evts, phases, wall, **extra), report


def reached(timeline: tl.Timeline) -> list[str]:
    """Which of systemd's own milestones the console showed."""
    return [e.name for e in timeline.events if e.name in ("systemd", *TARGET_UNITS)]
