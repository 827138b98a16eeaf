"""Real QEMU boots under TCG: every machine type reaches the workload, and nothing is left behind."""

from __future__ import annotations

import glob
import os
import subprocess
import tempfile
import time

import pytest

from runtime.vm import qemu
from runtime.vm.boot import TMP_PREFIX, boot, initrd_file
from tests.vm.conftest import alive, qemu_pids

pytestmark = [pytest.mark.qemu, pytest.mark.busybox, pytest.mark.slow]

WORKLOAD = "echo hello from the workload; echo second line; /bin/true"


@pytest.mark.parametrize("machine", ["microvm", "pc", "q35"])
def test_tcg_boot_reaches_the_workload_and_the_phases_add_up(machine, guest_kernel, no_leaks):
    with initrd_file(WORKLOAD, services=2) as (initrd, _):
        spec = qemu.Spec(guest_kernel.path, initrd, machine=machine, accel="tcg")
        start = time.monotonic()
        result = qemu.run(spec)
        wall = time.monotonic() - start                        # measured outside the launcher
    tl = result.timeline
    names = [e.name for e in tl.events]
    assert names[:1] == ["spawn"] and names[-1] == "exit"
    for needed in ("kernel-entry", "init", "mark:init", "mark:service:devices", "mark:service:hostname",
                   "mark:workload-start", "mark:workload-done", "mark:poweroff"):
        assert needed in names
    if machine != "microvm":
        assert {"firmware", "loader", "setup"} <= set(names)   # SeaBIOS and the linuxboot ROM
    assert tl.monotonic() and not any(e.clamped for e in tl.events)
    assert all(a.end == b.start for a, b in zip(tl.phases, tl.phases[1:], strict=False))  # no gap, no overlap
    assert (tl.phases[0].begins, tl.phases[-1].ends) == ("spawn", "exit")  # from qemu's start to its exit
    assert 0 < tl.total <= wall                                # inside the time measured around the launcher
    assert tl.workload_exit == 0 and result.returncode == 0
    assert tl.info == {"machine": machine, "accel": "tcg", "memory_mb": 256, "cpus": 1}
    assert 100 * 2**20 < tl.peak_rss < 1024 * 2**20 and 0 < tl.peak_pss <= tl.peak_rss
    from runtime.vm.timeline import workload_output

    assert workload_output(result.lines) == ["hello from the workload", "second line"]
    assert not glob.glob(os.path.join(tempfile.gettempdir(), f"{TMP_PREFIX}{os.getpid()}-*"))


def test_boot_reports_the_decision_and_host_side_preparation(guest_kernel, no_leaks):
    report = boot("true", machine="microvm", accel="tcg", kernel_path=guest_kernel.path)
    assert report.decision.accel == "tcg" and report.timeline.info["accel_reason"] == report.decision.reason
    assert set(report.prep) == {"kernel", "accel", "initramfs"} and report.initrd_bytes > 100_000
    assert report.kernel.sha256 == guest_kernel.sha256 and report.to_dict()["timeline"]["workload_exit"] == 0


@pytest.mark.busybox
def test_the_same_workload_string_runs_as_a_container_would(guest_kernel):
    """The VM's workload output equals ``busybox sh -c`` of the same string on the host."""
    from runtime.vm.initramfs import find_busybox
    from runtime.vm.timeline import workload_output

    report = boot(WORKLOAD + "; exit 7", accel="tcg", kernel_path=guest_kernel.path)
    host = subprocess.run([find_busybox(), "sh", "-c", WORKLOAD + "; exit 7"], capture_output=True, text=True,
                          timeout=60)
    assert workload_output(report.console) == host.stdout.splitlines()
    assert report.timeline.workload_exit == host.returncode == 7


def _spec(kernel, initrd, **kw):
    return qemu.Spec(kernel, initrd, machine="microvm", accel="tcg", **kw)


def _assert_gone(pid: int, marker: str) -> None:
    assert not alive(pid), f"qemu {pid} still alive"
    assert qemu_pids(marker) == []


def test_forced_timeout_kills_qemu(guest_kernel, no_leaks):
    pids = []
    with initrd_file("true") as (initrd, _):
        with pytest.raises(qemu.BootTimeout) as err:
            qemu.run(_spec(guest_kernel.path, initrd), timeout=0.6,
                     on_line=lambda ln: pids or pids.extend(qemu_pids(initrd)))
        message = str(err.value)
        assert "timed out after 0.6 s" in message and "QEMU killed" in message
        assert "last stage reached" in message
        for pid in pids:
            _assert_gone(pid, initrd)
        assert qemu_pids(initrd) == []


HANGING_INIT = """#!/bin/sh
mount -t proc proc /proc
echo "VMVC-MARK init 0"
while :; do sleep 1; done
"""


def test_a_guest_that_never_powers_off_is_a_hang(guest_kernel, no_leaks):
    with initrd_file("true", init=HANGING_INIT) as (initrd, _):
        with pytest.raises(qemu.BootTimeout) as err:
            qemu.run(_spec(guest_kernel.path, initrd), timeout=60, stall=5.0)  # boots stay below it
        assert "guest hung: no console output for 5 s" in str(err.value)
        assert "last stage reached: mark:init" in str(err.value)
        assert qemu_pids(initrd) == []


def test_a_paused_qemu_is_a_hang(guest_kernel, no_leaks):
    with initrd_file("true") as (initrd, _):
        with pytest.raises(qemu.BootTimeout, match="last stage reached: spawn"):
            qemu.run(_spec(guest_kernel.path, initrd, extra=["-S"]), timeout=60, stall=1.0)
        assert qemu_pids(initrd) == []


def test_ctrl_c_kills_qemu(guest_kernel, no_leaks):
    def interrupt(line):
        if "Linux version" in line.text:
            raise KeyboardInterrupt

    with initrd_file("true") as (initrd, _):
        with pytest.raises(KeyboardInterrupt):
            qemu.run(_spec(guest_kernel.path, initrd), on_line=interrupt)
        assert qemu_pids(initrd) == []


def test_kvm_internal_error_is_caught_and_qemu_killed(no_leaks, tmp_path):
    """A stand-in QEMU prints the line a software KVM ends with, then stays paused for ever."""
    fake = tmp_path / "qemu-system-x86_64"
    fake.write_text("#!/bin/sh\necho 'KVM internal error. Suberror: 1'\nexec sleep 600\n")
    fake.chmod(0o755)
    with pytest.raises(qemu.KvmInternalError, match="Use --accel tcg") as err:
        qemu.run(_spec("/k", "/i"), qemu=str(fake), timeout=30)
    assert "QEMU killed" in str(err.value)
    assert subprocess.run(["pgrep", "-f", str(fake)], capture_output=True, timeout=120).stdout == b""


@pytest.mark.kvm
@pytest.mark.no_kvm_hw  # with VT-x/AMD-V the kernel boots: there is no error to catch
@pytest.mark.timeout(600)
def test_a_real_kvm_internal_error_is_caught_and_qemu_killed(guest_kernel, no_leaks):
    """A software KVM (kvm_pvm) cannot run a stock kernel: QEMU prints the error, then would stay paused.

    The launcher must see the line and kill QEMU. The PVH vmlinux, 64 MiB and a quiet console get there
    sooner (no decompression, less memory to set up, no console output under the emulator): 2-4 minutes
    on this kind of host (docs/host-facts.md), bounded here by ``timeout``.
    """
    from runtime.vm import vmlinux

    pvh = vmlinux.for_kernel(guest_kernel)
    with initrd_file("true") as (initrd, _):
        spec = qemu.Spec(pvh.path, initrd, accel="kvm", memory_mb=64, append="quiet loglevel=0",
                         extra=["-cpu", "host,-arch-capabilities"])  # plain -cpu host aborts here (MSR 0x10a)
        with pytest.raises(qemu.KvmInternalError) as err:
            qemu.run(spec, timeout=420, stall=None)  # silent for minutes while the emulator works
        assert "this host's KVM cannot run the guest; QEMU killed. Use --accel tcg" in str(err.value)
        assert any("KVM internal error" in ln.text for ln in err.value.lines)
        assert qemu_pids(initrd) == []


def test_a_qemu_that_fails_to_start_says_why(no_leaks, tmp_path):
    with pytest.raises(qemu.BootError, match="qemu exited with 1"):
        qemu.run(_spec(str(tmp_path / "no-such-kernel"), str(tmp_path / "no-initrd")))


def test_microvm_under_tcg_gets_the_host_tsc_rate():
    spec = _spec("/k", "/i", tsc_khz=2596120)
    assert "tsc_early_khz=2596120" in qemu.cmdline(spec)
    assert "tsc_early_khz" not in qemu.cmdline(qemu.Spec("/k", "/i", machine="pc"))
    cmd = qemu.command(spec)
    assert cmd[:5] == ["qemu-system-x86_64", "-M", "microvm", "-accel", "tcg"]
    assert {"-nographic", "-no-reboot"} <= set(cmd) and cmd[cmd.index("-m") + 1] == "256"
    assert qemu.host_tsc_khz() > 100_000


def test_a_silent_workload_is_not_a_hang(guest_kernel, no_leaks):
    with initrd_file("sleep 8; echo woke") as (initrd, _):  # silent for longer than the stall limit
        result = qemu.run(_spec(guest_kernel.path, initrd), stall=5.0)  # a busy host's boot stays below it
    from runtime.vm.timeline import workload_output

    assert workload_output(result.lines) == ["woke"] and result.timeline.workload_exit == 0


def test_every_distro_like_service_starts(guest_kernel, no_leaks):
    from runtime.vm.initramfs import SERVICES

    with initrd_file("pidof syslogd klogd crond httpd | wc -w", services=len(SERVICES)) as (initrd, _):
        result = qemu.run(_spec(guest_kernel.path, initrd))
    assert not [ln.text for ln in result.lines if "failed" in ln.text and "vmvc: service" in ln.text]
    marks = [e.name for e in result.timeline.events if e.name.startswith("mark:service:")]
    assert marks == [f"mark:service:{name}" for name, _ in SERVICES]
    from runtime.vm.timeline import workload_output

    assert workload_output(result.lines) == ["4"]   # the four daemons are still running


def test_the_tsc_rate_comes_from_the_best_evidence(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\ncpu MHz\t\t: 1800.000\n")
    log = tmp_path / "kmsg"
    log.write_text("6,17,68,-;tsc: Detected 2596.120 MHz processor\n"
                   "6,300,900,-;tsc: Refined TSC clocksource calibration: 2596.125 MHz\n")
    assert qemu.host_tsc_khz(str(cpuinfo), str(log)) == 2596125          # the kernel's calibration
    assert qemu.host_tsc_khz(str(cpuinfo), str(tmp_path / "none")) == 1800000   # cpuinfo as last resort


@pytest.mark.kvm_hw
def test_with_hardware_virtualisation_auto_boots_with_kvm(guest_kernel, no_leaks):
    """Only on a host with VT-x/AMD-V (skipped on kvm_pvm hosts, which CI allows)."""
    report = boot(WORKLOAD, machine="microvm", accel="auto", kernel_path=guest_kernel.path)
    assert report.decision.accel == "kvm" and report.timeline.info["accel"] == "kvm"
    assert "-accel" in report.command and report.command[report.command.index("-accel") + 1] == "kvm"
    assert report.timeline.workload_exit == 0 and report.timeline.monotonic()
