"""``vmvc bench`` as a command: listing, rebuilding a report from a results file, bad input, --json."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from benchmarks import RECORDED

VMVC = os.path.join(os.path.dirname(sys.executable), "vmvc")


def bench(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([VMVC, "bench", *args], capture_output=True, text=True, timeout=300, cwd=cwd)


def test_help_describes_what_is_there():
    r = bench("--help")
    assert r.returncode == 0
    for word in ("--quick", "--full", "--suite", "--out", "--json", "--open", "--report-only", "--list",
                 "report.html", "Ctrl-C"):
        assert word in r.stdout


def test_list_names_every_suite():
    r = bench("--list")
    assert r.returncode == 0
    for name in ("startup", "phases", "pull", "mirror"):
        assert f"\n{name} " in "\n" + r.stdout


def test_report_only_rebuilds_the_four_outputs_in_the_current_directory(tmp_path):
    r = bench("--report-only", RECORDED, cwd=tmp_path)
    out = tmp_path / "vmvc-report"
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(out)) == ["charts", "report.html", "report.md", "results.csv", "results.json"]
    assert f"report written to {out}/" in r.stderr
    page = (out / "report.html").read_text()
    assert all(f"<td>C{i}</td>" in page for i in range(1, 14))


def test_bad_input_is_one_line(tmp_path):
    for args in (["--suite", "nope"], ["--report-only", str(tmp_path / "missing.json")]):
        r = bench(*args, "--out", str(tmp_path / "x"))
        assert r.returncode == 125 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.root
@pytest.mark.overlay
@pytest.mark.cgroups
@pytest.mark.qemu
def test_json_run_of_a_suite_that_cannot_measure(tmp_path):
    """--quick never builds a Debian VM image: without a cached one the suite says so (and --json prints
    the results file on stdout)."""
    env = {**os.environ, "VMVC_ROOT": str(tmp_path / "root")}
    r = subprocess.run([VMVC, "bench", "--suite", "fromnothing", "--json", "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["schema"] == 1 and not data["partial"] and data["host"]["accelerator"]["accel"]
    entry = data["suites"]["fromnothing"]
    assert entry["status"] == "not measured" and "--full" in entry["reason"]
    c9 = next(c for c in data["claims"] if c["id"] == "C9")
    assert c9["verdict"] == "not measured here" and c9["reason"]
    assert json.loads((tmp_path / "o" / "results.json").read_text())["suites"] == data["suites"]
