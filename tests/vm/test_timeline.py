"""Console evidence → phases, tested on recorded-style input (no QEMU needed)."""

from __future__ import annotations

from runtime.vm import timeline as tl


def test_lines_are_stamped_with_their_first_printable_byte():
    s = tl.LineSplitter()
    out = s.feed(0.1, b"\x1b")                 # an escape cut in half by a read boundary
    out += s.feed(0.2, b"c\x1b[?7l\x1b[2J")     # ...a terminal reset, nothing printable yet
    out += s.feed(0.3, b"SeaBIOS (version 1)\r\nBoot")
    out += s.feed(0.4, b"ing from ROM...\n")
    assert out == [tl.Line(0.3, "SeaBIOS (version 1)"), tl.Line(0.3, "Booting from ROM...")]
    assert s.feed(0.5, b"o\x1bc[    0.000000] Linux") == [tl.Line(0.5, "o")]
    assert s.flush() == [tl.Line(0.5, "[    0.000000] Linux")]


def lines(*pairs):
    return [tl.Line(t, text) for t, text in pairs]


CONSOLE = lines(
    (0.06, "SeaBIOS (version 1.16.2-debian)"),
    (0.09, "Booting from ROM..."),
    (0.10, "PPrroobbiinngg  EEDDDD  ((eedddd==ooffff  ttoo  ddiissaabbllee))......  ook"),
    (0.30, "[    0.000000] Linux version 6.1.0-56-cloud-amd64"),
    (1.60, "[    1.181031] Run /init as init process"),
    (1.66, "VMVC-MARK init 1.24"),
    (1.68, "VMVC-MARK mounts 1.26"),
    (1.70, "VMVC-MARK workload-start 1.28"),
    (1.70, "hello"),
    (1.70, "[    1.499921] clocksource: Switched to clocksource tsc"),
    (1.71, "VMVC-MARK workload-done 1.29"),
    (1.71, "VMVC-EXIT 3"),
    (1.72, "VMVC-MARK poweroff 1.30"),
)


def test_phases_follow_the_boot_and_sum_to_the_wall_time():
    t = tl.build(CONSOLE, exit_t=1.75, wall=1.75)
    assert [p.name for p in t.phases] == [
        "qemu start-up", "firmware (SeaBIOS)", "loader (linuxboot ROM)", "kernel setup + decompression",
        "kernel boot to /init", "/init: shell + /proc", "/init: mounts", "workload start", "workload",
        "report exit code", "poweroff + qemu exit"]
    assert t.monotonic() and abs(t.total - 1.75) < 1e-9
    assert t.workload_exit == 3
    assert t.event("kernel-entry").t == 0.30 and t.event("init").guest == 1.181031
    assert t.event("mark:init").guest == 1.24
    assert tl.workload_output(CONSOLE) == ["hello"]


def test_microvm_has_no_bios_banner():
    t = tl.build(CONSOLE[2:], exit_t=1.75, wall=1.75)
    assert t.phases[0].name == "qemu start-up + firmware"


def test_an_out_of_order_boundary_is_clamped_and_flagged():
    console = lines((0.5, "SeaBIOS (version x)"), (0.4, "[    0.000000] Linux version"))
    t = tl.build(console, exit_t=1.0, wall=1.0)
    entry = t.event("kernel-entry")
    assert entry.clamped and entry.t == 0.5 and t.monotonic()


def test_last_phase_names_how_far_a_boot_got():
    assert tl.last_phase([]) == "spawn"
    assert tl.last_phase(CONSOLE[:4]) == "kernel-entry"
    assert tl.last_phase(CONSOLE[:7]) == "mark:mounts"
