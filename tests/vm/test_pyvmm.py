"""pyvmm on the real /dev/kvm: exact guest output and exact VM-exit counts."""

from __future__ import annotations

import pytest

from runtime.vm.pyvmm import guests
from runtime.vm.pyvmm.asm import Asm
from runtime.vm.pyvmm.machine import GuestError, Machine

MODES = ["real", "protected", "long"]


def test_the_assembler_emits_known_encodings():
    a = Asm(16, 0x1000)
    a.mov_imm("si", "msg").mov_imm("dx", 0x3F8).label("msg").db("A")
    assert a.assemble() == bytes.fromhex("be0610" "baf803" "41")
    assert Asm(32).mov_imm("dx", 0x3F8).mov_imm("ecx", 5).assemble() == bytes.fromhex("66baf803" "b905000000")
    assert Asm(64).mov_imm("rax", 1).inc("eax").assemble() == bytes.fromhex("48b80100000000000000" "ffc0")
    back = Asm(16).label("top").loop("top").assemble()
    assert back == bytes.fromhex("e2fe")
    with pytest.raises(ValueError, match="undefined label"):
        Asm(16).jmp("nowhere").assemble()
    with pytest.raises(ValueError, match="64-bit"):
        Asm(32).mov_imm("rax", 1)




@pytest.mark.kvm
@pytest.mark.parametrize("mode", MODES)
def test_hello_prints_over_the_serial_port(mode, no_leaks):
    out = guests.run("hello", mode)
    assert out.serial == "Hello from pyvmm!\n"
    assert dict(out.stats.counts) == {"io": 18, "hlt": 1}      # one port write per byte, then hlt


@pytest.mark.kvm
@pytest.mark.parametrize("mode", MODES)
def test_a_loop_makes_no_exits(mode):
    out = guests.run("loop", mode, n=1000)
    assert out.regs["rax"] == 1000 and out.regs["rcx"] == 0
    assert dict(out.stats.counts) == {"hlt": 1}


@pytest.mark.kvm
@pytest.mark.parametrize("mode", MODES)
def test_port_io_is_counted_exit_by_exit(mode):
    out = guests.run("ports", mode, n=16)
    assert out.device["port_writes"] == list(range(16)) and out.device["port_reads"] == 1
    assert out.regs["rax"] & 0xFF == 16                         # the device's answer to the guest's in
    assert dict(out.stats.counts) == {"io": 17, "hlt": 1}


@pytest.mark.kvm
@pytest.mark.parametrize("mode", ["protected", "long"])
def test_mmio_to_unbacked_memory_exits_to_the_device(mode):
    out = guests.run("mmio", mode)
    base = guests.MMIO_BASE
    assert out.device["mmio_writes"] == [(base, ord("V")), (base + 1, ord("M")), (base + 2, ord("M"))]
    assert out.device["mmio_reads"] == 1 and out.regs["rax"] & 0xFF == 3
    assert dict(out.stats.counts) == {"mmio": 4, "hlt": 1}


@pytest.mark.kvm
def test_long_mode_really_is_64_bit():
    assert guests.run("wide", "long").regs["rax"] == 0x1122334455667788


@pytest.mark.kvm
def test_exits_are_timed():
    out = guests.run("hello", "real")
    s = out.stats
    assert s.handle_s["io"] > 0 and s.in_guest_s > 0 and s.total_s >= s.in_guest_s
    assert out.to_dict()["exits"]["exits"] == 19


@pytest.mark.kvm
def test_a_guest_that_never_halts_is_stopped(no_leaks):
    with Machine() as vm:
        vm.load(0x1000, Asm(16, 0x1000).label("spin").jmp("spin").assemble())
        vm.setup("real", 0x1000)
        with pytest.raises(GuestError, match="did not halt within 0.2 s"):
            vm.run_until_halt(timeout=0.2)


@pytest.mark.kvm
def test_an_exit_storm_is_bounded():
    with Machine() as vm:
        vm.load(0x1000, Asm(16, 0x1000).label("top").out_imm_al(0x80).jmp("top").assemble())
        vm.setup("real", 0x1000)
        with pytest.raises(GuestError, match="50 exits without halting"):
            vm.run_until_halt(max_exits=50)


def test_unsupported_combinations_are_refused():
    assert not guests.supports("mmio", "real") and not guests.supports("wide", "protected")
    with pytest.raises(ValueError):
        guests.run("mmio", "real")
    with pytest.raises(ValueError):
        guests.run("nope")


@pytest.mark.kvm
def test_vms_that_fail_mid_run_leak_no_fds_or_mappings(no_leaks):
    with open("/proc/self/maps") as f:
        maps_before = len(f.readlines())
    for _ in range(50):
        with pytest.raises(GuestError):
            with Machine() as vm:
                vm.load(0x1000, Asm(16, 0x1000).label("top").out_imm_al(0x80).jmp("top").assemble())
                vm.setup("real", 0x1000)
                vm.run_until_halt(max_exits=5)
    with open("/proc/self/maps") as f:
        assert len(f.readlines()) <= maps_before + 2    # allocator noise, not 50 VMs' worth


@pytest.mark.kvm
def test_a_trace_lists_every_exit_in_order():
    out = guests.run("hello", "real", trace=True)
    assert len(out.trace) == 19
    assert [e.detail for e in out.trace[:2]] == ["out port 0x3f8 = 0x48", "out port 0x3f8 = 0x65"]  # "He"
    assert out.trace[-1].reason == "hlt" and all(e.guest_us > 0 for e in out.trace)
    mmio = guests.run("mmio", "protected", trace=True).trace
    assert mmio[0].detail == f"write {guests.MMIO_BASE:#x} (1 bytes) = 0x56"
    assert mmio[3].detail == f"read {guests.MMIO_BASE:#x} (1 bytes) = 0x3"
