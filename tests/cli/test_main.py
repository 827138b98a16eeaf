"""The ``vmvc`` dispatcher: help lists what exists, typos get a suggestion and exit 2."""

import subprocess
import sys
from pathlib import Path


def vmvc(*args):
    return subprocess.run([sys.executable, "-m", "runtime.cli", *args], capture_output=True, text=True,
                          timeout=120)


def test_help_lists_command_groups():
    r = vmvc("--help")
    assert r.returncode == 0
    for word in ("doctor", "sim", "bench", "version"):
        assert word in r.stdout


def test_typo_suggests_and_exits_2():
    r = vmvc("doctr")
    assert r.returncode == 2
    assert "Did you mean 'doctor'?" in r.stderr
    assert len(r.stderr.strip().splitlines()) <= 2


def test_unknown_flag_of_a_command_is_one_line():
    r = vmvc("doctor", "--bogus")
    assert r.returncode == 2 and r.stderr == "unknown flag: --bogus\nSee 'vmvc doctor --help'.\n"


def test_version():
    r = vmvc("--version")
    assert r.returncode == 0 and r.stdout.startswith("vmvc ")


def test_console_script_is_installed():
    exe = Path(sys.executable).parent / "vmvc"
    r = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "doctor" in r.stdout
