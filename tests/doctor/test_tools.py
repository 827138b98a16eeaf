"""Parsing what tools print, and what the doctor says when a tool is absent."""

from runtime.doctor import MISSING, tools

MACHINE_HELP = """Supported machines are:
microvm              microvm (i386)
pc                   Standard PC (i440FX + PIIX, 1996) (alias of pc-i440fx-7.2)
q35                  Standard PC (Q35 + ICH9, 2009) (alias of pc-q35-7.2)
none                 empty machine
"""
ACCEL_HELP = "Accelerators supported in QEMU binary:\ntcg\nkvm\n"


def test_parse_qemu_machines_and_accels():
    assert tools.parse_machines(MACHINE_HELP) == ["microvm", "pc", "q35", "none"]
    assert tools.parse_accels(ACCEL_HELP) == ["tcg", "kvm"]


def test_missing_tool_says_what_to_install(monkeypatch):
    monkeypatch.setitem(tools.TOOLS, "crun", (["vmvc-no-such-binary", "--version"], "crun", "anchor"))
    check = tools.tool_check("crun")
    assert check.verdict == MISSING
    assert "not found" in check.evidence and "apt-get install" in check.advice and "crun" in check.advice


def test_elf_static_detection(tmp_path):
    not_elf = tmp_path / "script"
    not_elf.write_text("#!/bin/sh\n")
    assert tools.elf_is_static(str(not_elf)) is None
    assert tools.elf_is_static(str(tmp_path / "absent")) is None
