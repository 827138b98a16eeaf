"""Where a VM's boot time goes: console lines with arrival times turned into consecutive phases.

Why phases and not one number: "a VM boots slowly" hides the answer to *why* -- QEMU start-up,
firmware, the loader, decompressing the kernel, the kernel's own init, then userspace. Each
boundary comes from evidence on the serial console:

* host clock: when QEMU was spawned and when it exited;
* firmware banners: ``SeaBIOS (version`` (pc, q35), ``Booting from ROM`` (the linuxboot option ROM),
  ``Probing EDD`` (the kernel's real-mode setup code, before decompression);
* the kernel's own lines: with ``earlyprintk=serial`` the kernel writes to the UART as soon as it
  parses its early parameters (a few lines into ``start_kernel``, replaying the lines before), so
  the arrival of ``[    0.000000] Linux version`` marks the kernel entry (late by that sliver), and
  the arrival of ``Run /init as init process`` the moment it reaches ``/init``. Their
  printk timestamps are kept as the guest's clock but not used for the host timeline: the guest's
  clock starts at TSC calibration, not at entry, and a kernel that marks its TSC unstable falls back
  to a coarser clock, so mapping printk time to host time is only approximate;
* ``VMVC-MARK <name> <uptime>`` lines from our ``/init`` (arrival time; the guest uptime is kept too).

Line times have the reader's resolution (about 1 ms: see ``qemu.run``).

Phases are consecutive, so they are monotonic and sum to the wall time by construction; a boundary
estimated out of order is clamped to its predecessor and flagged, never silently reordered.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from runtime.vm.initramfs import EXIT, MARK

PRINTK = re.compile(r"^\[\s*(\d+\.\d+)\]\s?(.*)$")
COMPLETE_ESC = re.compile(rb"\x1b(\[[0-9;?]*[A-Za-z]|[A-Za-z])")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[A-Za-z]")
# The setup code's message is doubled when both the BIOS console and earlyprintk echo it.
FIRMWARE = {"firmware": re.compile(r"SeaBIOS \(version"), "loader": re.compile(r"Booting from ROM"),
            "setup": re.compile(r"P+r+o+b+i+n+g+\s+E+D+D+")}
RUN_INIT = "Run /init as init process"


@dataclass(frozen=True)
class Line:
    """One console line and when (seconds after QEMU was spawned) its first byte arrived."""

    t: float
    text: str


@dataclass
class Event:
    name: str        # spawn, firmware, loader, setup, kernel-entry, init, mark:<name>, exit
    t: float         # seconds after spawn, host clock
    source: str      # host | console | printk | marker
    guest: float | None = None   # guest clock (printk time or /proc/uptime) when known
    clamped: bool = False


@dataclass
class Phase:
    name: str
    start: float
    end: float
    begins: str      # the event that opens it
    ends: str        # the event that closes it
    source: str
    guest: float | None = None   # the guest's own clock at the end (printk time or /proc/uptime)

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass
class Timeline:
    events: list[Event]
    phases: list[Phase]
    wall: float                      # spawn to exit, host clock (seconds)
    peak_rss: int = 0                # bytes, QEMU process (VmHWM)
    peak_pss: int = 0                # bytes, sampled from smaps_rollup
    samples: int = 0
    workload_exit: int | None = None
    info: dict = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(p.seconds for p in self.phases)

    def monotonic(self) -> bool:
        return all(a.t <= b.t for a, b in zip(self.events, self.events[1:], strict=False))

    def event(self, name: str) -> Event | None:
        return next((e for e in self.events if e.name == name), None)

    def to_dict(self) -> dict:
        d = asdict(self)
        for p in d["phases"]:
            p["seconds"] = p["end"] - p["start"]
        d["total"] = self.total
        return d


def clean(text: str) -> str:
    return ANSI.sub("", text).replace("\r", "").rstrip()


class LineSplitter:
    """Bytes as read from the pipe → lines stamped with the arrival of their first byte.

    Lines end at ``\\n`` and at a terminal reset (``ESC c``), which SeaBIOS and the kernel's
    setup code emit mid-line. Incremental, so the launcher checks each line as it completes.
    """

    def __init__(self) -> None:
        self.buf = b""
        self.start: float | None = None
        self.held = b""  # an escape sequence cut by a read boundary waits for its end

    def feed(self, t: float, chunk: bytes) -> list[Line]:
        chunk, self.held = self.held + chunk, b""
        esc = chunk.rfind(b"\x1b")
        if esc >= 0 and not COMPLETE_ESC.match(chunk, esc) and len(chunk) - esc < 16:
            chunk, self.held = chunk[:esc], chunk[esc:]
        out = []
        for piece in re.split(rb"(\n|\x1bc)", chunk):
            if not piece:
                continue
            if piece in (b"\n", b"\x1bc"):
                out += self.flush()
                continue
            if self.start is None and clean(piece.decode(errors="replace")):
                self.start = t  # escape sequences alone do not start a line
            self.buf += piece
        return out

    def flush(self) -> list[Line]:
        text = clean(self.buf.decode(errors="replace"))
        start, self.buf, self.start = self.start, b"", None
        return [Line(start, text)] if text else []


def split_stream(chunks: list[tuple[float, bytes]]) -> list[Line]:
    splitter = LineSplitter()
    lines = [ln for t, chunk in chunks for ln in splitter.feed(t, chunk)]
    return lines + splitter.flush()


def printk_time(text: str) -> float | None:
    m = PRINTK.match(text)
    return float(m.group(1)) if m else None


def markers(lines: list[Line]) -> list[tuple[Line, str, float | None]]:
    out = []
    for ln in lines:
        if ln.text.startswith(MARK + " "):
            parts = ln.text.split()
            uptime = float(parts[2]) if len(parts) > 2 and _is_float(parts[2]) else None
            out.append((ln, parts[1] if len(parts) > 1 else "?", uptime))
    return out


def workload_exit(lines: list[Line]) -> int | None:
    for ln in lines:
        if ln.text.startswith(EXIT + " "):
            value = ln.text.split()[1]
            return int(value) if value.lstrip("-").isdigit() else None
    return None


def workload_output(lines: list[Line]) -> list[str]:
    """What the workload printed: the console lines between its start and done markers.

    Kernel messages (``[ seconds] ...``) share the console and are left out.
    """
    texts = [ln.text for ln in lines]
    try:
        start = next(i for i, t in enumerate(texts) if t.startswith(f"{MARK} workload-start"))
        end = next(i for i, t in enumerate(texts) if t.startswith(f"{MARK} workload-done"))
    except StopIteration:
        return []
    return [t for t in texts[start + 1:end] if not PRINTK.match(t)]


def _is_float(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def events(lines: list[Line], exit_t: float) -> list[Event]:
    """Boundary events, in boot order, from the console lines and the exit time."""
    found = [Event("spawn", 0.0, "host")]
    for name, needle in FIRMWARE.items():
        hit = next((ln for ln in lines if needle.search(ln.text)), None)
        if hit is not None:
            found.append(Event(name, hit.t, "console"))
    # With earlyprintk the kernel's first line is written live: its arrival is the kernel entry.
    first = next(((ln, ts) for ln in lines if (ts := printk_time(ln.text)) is not None), None)
    if first is not None:
        found.append(Event("kernel-entry", first[0].t, "console", first[1]))
    run_init = next(((ln, ts) for ln in lines if RUN_INIT in ln.text
                     and (ts := printk_time(ln.text)) is not None), None)
    if run_init is not None:
        found.append(Event("init", run_init[0].t, "console", run_init[1]))
    for ln, name, uptime in markers(lines):
        found.append(Event(f"mark:{name}", ln.t, "marker", uptime))
    found.append(Event("exit", exit_t, "host"))
    for prev, cur in zip(found, found[1:], strict=False):
        if cur.t < prev.t:
            cur.t, cur.clamped = prev.t, True
    return found


def label(prev: Event, cur: Event) -> str:
    """What the guest was doing between two boundaries."""
    fixed = {"firmware": "qemu start-up", "loader": "firmware (SeaBIOS)", "setup": "loader (linuxboot ROM)",
             "kernel-entry": "kernel setup + decompression", "init": "kernel boot to /init",
             "exit": "poweroff + qemu exit"}
    if cur.name == "setup" and prev.name == "spawn":
        return "qemu start-up + firmware"
    # No setup-code banner before the kernel entry: a PVH direct boot (no setup code, nothing to
    # decompress), unless someone passed edd=off to a bzImage.
    if cur.name == "kernel-entry" and prev.name == "spawn":
        return "qemu start-up + kernel load (direct entry)"
    if cur.name == "kernel-entry" and prev.name in ("firmware", "loader"):
        return "loader → kernel entry (direct, no decompression)"
    if cur.name in fixed:
        return fixed[cur.name]
    mark = cur.name.removeprefix("mark:")
    return {"init": "/init: shell + /proc", "mounts": "/init: mounts", "workload-start": "workload start",
            "workload-done": "workload", "poweroff": "report exit code"}.get(
        mark, mark.replace("service:", "service: "))


def phases(evts: list[Event]) -> list[Phase]:
    return [Phase(label(a, b), a.t, b.t, a.name, b.name, b.source, b.guest)
            for a, b in zip(evts, evts[1:], strict=False)]


def build(lines: list[Line], exit_t: float, wall: float, **extra) -> Timeline:
    evts = events(lines, exit_t)
    return Timeline(evts, phases(evts), wall, workload_exit=workload_exit(lines), **extra)


def last_phase(lines: list[Line]) -> str:
    """The furthest stage the console shows (for hang and timeout messages)."""
    evts = events(lines, lines[-1].t if lines else 0.0)[:-1]
    return evts[-1].name if evts else "spawn"


# --- memory of the QEMU process ------------------------------------------------------------------

def _kb_field(text: str, key: str) -> int:
    m = re.search(rf"^{key}:\s+(\d+) kB", text, re.M)
    return int(m.group(1)) * 1024 if m else 0


class MemorySampler:
    """Peak RSS (the kernel's own high-water mark, VmHWM) and peak PSS (sampled) of one process.

    VmHWM is exact whenever it is read before the process exits, so a cheap read of ``status``
    suffices for RSS. PSS has no high-water mark: ``smaps_rollup`` walks the page tables (~1.5 ms for
    a 256 MiB guest), so it is read only every ``pss_every``-th sample to keep the harness light.
    """

    def __init__(self, pid: int, pss_every: int = 4) -> None:
        self.pid = pid
        self.pss_every = pss_every
        self.peak_rss = 0
        self.peak_pss = 0
        self.samples = 0

    def sample(self) -> None:
        try:
            with open(f"/proc/{self.pid}/status") as f:
                status = f.read()
            rollup = ""
            if self.samples % self.pss_every == 0:
                with open(f"/proc/{self.pid}/smaps_rollup") as f:
                    rollup = f.read()
        except OSError:
            return  # exited between samples
        self.peak_rss = max(self.peak_rss, _kb_field(status, "VmHWM"))
        self.peak_pss = max(self.peak_pss, _kb_field(rollup, "Pss"))
        self.samples += 1
