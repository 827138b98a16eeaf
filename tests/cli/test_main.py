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


def test_a_reader_that_leaves_early_gets_no_traceback():
    """`vmvc --help | head -1`: the pipe closes before the help is written; exit 141 (SIGPIPE's
    128+13, as a shell reports docker's), nothing on stderr."""
    import os

    exe = Path(sys.executable).parent / "vmvc"
    for args in (["--help"], ["images", "--help"]):
        read, write = os.pipe()
        os.close(read)  # nobody will ever read: the first write fails with EPIPE
        with os.fdopen(write, "wb") as out:
            r = subprocess.run([exe, *args], stdout=out, stderr=subprocess.PIPE, text=True, timeout=120)
        assert r.stderr == "" and r.returncode in (0, 141), (args, r.returncode, r.stderr[-300:])
    assert "Traceback" not in r.stderr
