"""The Debian guest's logic without building or booting anything: recipe keys, console → phases, errors."""

from __future__ import annotations

import pytest

from runtime.errors import UsageError
from runtime.vm.debian import build, phases, recipe
from runtime.vm.timeline import Line

# What a real boot printed (trimmed; times are arrival seconds on the host clock).
CONSOLE = [
    (0.05, "SeaBIOS (version 1.16.2-debian-1.16.2-1)"),
    (0.40, "Booting from ROM.."),
    (0.45, "Probing EDD (edd=off to disable)... ok"),
    (1.90, "[    0.000000] Linux version 6.1.0-57-cloud-amd64"),
    (4.10, "[    2.602311] Run /init as init process"),
    (4.30, "Begin: Loading essential drivers ... done."),
    (5.20, "Begin: Mounting root file system ... Begin: Running /scripts/local-top ... done."),
    (6.00, "[    3.951] EXT4-fs (vda): mounted filesystem with ordered data mode. Quota mode: none."),
    (6.40, "[    4.301] systemd[1]: systemd 252.39-1~deb12u2 running in system mode (+PAM +AUDIT)"),
    (6.45, "Welcome to Debian GNU/Linux 12 (bookworm)!"),
    (9.00, "[  OK  ] Reached target sysinit.…get - System Initialization."),
    (9.50, "[  OK  ] Reached target basic.target - Basic System."),
    (12.9, "[  OK  ] Reached target multi-user.target - Multi-User System."),
    (13.0, "VMVC-MARK multi-user 11.02"),
    (13.6, "VMVC-MARK boot-finished 11.60"),
    (13.7, "VMVC-DATA time Startup finished in 2.598s (kernel) + 1.701s (initrd) + 6.9s (userspace) = 11.2s"),
    (13.8, "VMVC-DATA blame 1min 2.100s ssh.service"),
    (13.8, "VMVC-DATA blame 873ms systemd-udev-trigger.service"),
    (13.8, "VMVC-DATA manager UserspaceTimestampMonotonic 4301234"),
    (13.8, "VMVC-DATA unit multi-user.target 10998000"),
    (13.8, "VMVC-DATA unit sysinit.target 7001000"),
    (13.9, "VMVC-DATA os Debian GNU/Linux 12 (bookworm)"),
    (14.0, "VMVC-MARK report 12.00"),
]


def lines():
    return [Line(t, text) for t, text in CONSOLE]


def test_systemd_report_parses_time_blame_and_timestamps():
    report = phases.systemd_report(lines())
    assert report.time[0].startswith("Startup finished in 2.598s")
    assert report.blame == [("ssh.service", pytest.approx(62.1)), ("systemd-udev-trigger.service", 0.873)]
    assert report.units == {"multi-user.target": 10.998, "sysinit.target": 7.001}
    assert report.manager["UserspaceTimestampMonotonic"] == pytest.approx(4.301234)
    assert report.os == "Debian GNU/Linux 12 (bookworm)"


def test_debian_phases_are_consecutive_and_name_the_guest_steps():
    timeline, _ = phases.build(lines(), 15.0, 15.0)
    names = [e.name for e in timeline.events]
    assert names == ["spawn", "firmware", "loader", "setup", "kernel-entry", "init", "initrd-root",
                     "root-mounted", "systemd", "sysinit", "basic", "multi-user", "mark:multi-user",
                     "mark:boot-finished", "mark:report", "exit"]
    assert all(a.end == b.start for a, b in zip(timeline.phases, timeline.phases[1:], strict=False))
    assert timeline.total == pytest.approx(timeline.wall)
    labels = [p.name for p in timeline.phases]
    assert "initrd: fsck + root mount" in labels and "systemd: basic → multi-user.target" in labels
    assert labels[-1] == "poweroff + qemu exit"
    assert timeline.event("multi-user").guest == 10.998      # systemd's own clock for the target
    assert phases.reached(timeline) == ["systemd", "sysinit", "basic", "multi-user"]


def test_a_boot_that_stops_early_still_has_consecutive_phases():
    timeline, report = phases.build(lines()[:9], 7.0, 7.0)
    assert [e.name for e in timeline.events][-3:] == ["root-mounted", "systemd", "exit"]
    assert timeline.total == pytest.approx(7.0) and report.blame == []


def test_span_seconds():
    assert phases.span_seconds("1min 2.5s") == 62.5
    assert phases.span_seconds("12us") == pytest.approx(12e-6)
    assert phases.span_seconds("nonsense") is None


def test_recipe_key_follows_packages_release_and_size():
    base = recipe.make()
    assert base.key() == recipe.make(packages=["cron", "openssh-server"]).key()   # order does not matter
    assert base.key() != recipe.make(packages=["cron"]).key()
    assert base.key() != recipe.make(release="trixie").key()
    assert base.key() != recipe.make(size="3G").key()
    assert set(recipe.BASE_PACKAGES) <= set(recipe.make(packages=[]).packages)


@pytest.mark.parametrize("kw, message", [
    ({"release": "Bookworm!"}, "invalid release name"),
    ({"packages": ["ok", "rm -rf /"]}, "invalid package name 'rm -rf /'"),
    ({"size": "lots"}, "invalid size 'lots'"),
    ({"size": "100M"}, "too small"),
])
def test_bad_recipe_input_is_one_usage_line(kw, message):
    with pytest.raises(UsageError, match=message):
        recipe.make(**kw)


@pytest.mark.parametrize("output, expected", [
    ("E: Unable to locate package nosuchpkg\n", "unknown package 'nosuchpkg' in Debian bookworm"),
    ("E: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease 404\n",
     "unknown Debian release 'bookworm'"),
    ("tar: ./usr/bin/x: Cannot write: No space left on device\n",
     "no space left on device while building in /c"),
    ("E: something else broke\nE: mmdebstrap failed to run\n", "mmdebstrap failed: E: something else broke"),
])
def test_tool_failures_become_one_line(output, expected):
    assert build.explain("mmdebstrap", output, recipe.make(), "/c").startswith(expected)


def test_the_report_unit_marks_after_multi_user_and_powers_off_only_when_asked():
    files = recipe.make().files()
    unit = files["/etc/systemd/system/vmvc-report.service"][0]
    script = files["/usr/local/sbin/vmvc-report"][0]
    assert "After=multi-user.target" in unit and "WantedBy=multi-user.target" in unit
    assert "Type=simple" in unit           # its job completes at start: the boot can finish
    assert f"grep -qw '{recipe.POWEROFF_FLAG}' /proc/cmdline" in script
    assert "systemctl is-system-running --wait" in script


def test_a_marker_behind_a_redrawn_status_line_is_still_found():
    mixed = lines()
    mixed[13] = Line(13.0, "[  ***] A start job is running for foo (3s / 1min 30s)VMVC-MARK multi-user 11.02")
    timeline, _ = phases.build(mixed, 15.0, 15.0)
    assert timeline.event("mark:multi-user").t == 13.0


def test_from_nothing_chart_rows_and_png(tmp_path, fonts_loaded):
    from runtime.vm.debian import chart

    result = {"vm": {"build_seconds": 60.0, "total": 80.0, "from_cached_image": 20.0},
              "container": {"warm_start_seconds": 0.02, "total": 5.0}}
    rows = chart.bars(result, microvm_init=3.0)
    assert list(rows.values()) == [0.02, 3.0, 20.0, 5.0, 80.0]
    png = chart.save(rows, str(tmp_path / "c.png"), "tcg")
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_a_target_without_a_status_line_is_placed_by_systemds_own_clock():
    quiet = [ln for ln in lines() if "Multi-User System" not in ln.text]     # a getty took the console
    timeline, _ = phases.build(quiet, 15.0, 15.0)
    event = timeline.event("multi-user")
    assert event.source == "systemd" and event.guest == 10.998
    assert event.t == pytest.approx(13.0 - (11.02 - 10.998))                 # counted back from the marker
    assert phases.reached(timeline) == ["systemd", "sysinit", "basic", "multi-user"]
