"""``vmvc sim``: tables for people, JSON for machines, PNGs on request, one-line errors with exit 2."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sim.cli import main

DATA = Path(__file__).with_name("data")
VMVC = Path(sys.executable).with_name("vmvc")


@pytest.fixture(autouse=True)
def _wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich folds cells at 80 columns when not on a terminal


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_storm_prints_a_table_per_profile(capsys):
    code, out, err = run(capsys, "storm", "--profile", "kvm-typical,crun", "-n", "4")
    assert code == 0 and not err
    assert "kvm-typical" in out and "crun" in out and "boot storm" in out


def test_start_json_is_the_summary(capsys):
    code, out, _ = run(capsys, "start", "--profile", "microvm", "--json", "--no-jitter")
    data = json.loads(out)
    assert code == 0 and data["n"] == 1 and data["ready"]["count"] == 1
    assert abs(data["ready"]["max"] - data["solo_seconds"]) < 1e-9


@pytest.mark.parametrize(
    "argv",
    [
        ["density", "--profile", "docker", "--memory-mib", "2048"],
        ["scaleout", "--profile", "crun", "--duration", "20", "--spike-at", "5", "--spike-for", "5"],
        ["cluster", "--profile", "kvm-typical", "--hosts", "2", "-n", "10", "--policy", "binpack"],
        ["profiles"],
    ],
)
def test_every_command_prints(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 0 and out.strip() and not err


def test_plots_and_results_go_to_out(capsys, tmp_path):
    code, out, err = run(
        capsys, *f"storm --profile tcg-this-kind,crun -n 3 --plot --out {tmp_path} --json".split()
    )
    assert code == 0
    assert len(json.loads(out)) == 2
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "storm-cdf.png",
        "storm-crun.json",
        "storm-memory.png",
        "storm-tcg-this-kind.json",
        "storm-timeline-crun.png",
        "storm-timeline-tcg-this-kind.png",
    ]
    assert all((tmp_path / n).read_bytes()[:4] == b"\x89PNG" for n in names if n.endswith(".png"))
    saved = json.loads((tmp_path / "storm-crun.json").read_text())
    assert len(saved["records"]) == 3 * 8 and saved["instances"]["ready"][0] > 0


@pytest.mark.parametrize(
    "argv,message",
    [
        (["storm", "--profile", "nope"], "unknown profile 'nope'"),
        (["storm", "-n", "0"], "must be >= 1"),
        (["storm", "-n", "2000000"], "from 1 to 1000000"),
        (["storm", "-n", "many"], "not an integer"),
        (["storm", "--interval", "-3"], ">= 0"),
        (["cluster", "--policy", "psychic"], "invalid choice"),
        (["teleport"], "invalid choice"),
        (["storm", "--profile", "crun", "--kind", "vm"], "no 'vm'"),
        (["validate", "/nonexistent/records.json"], "cannot read"),
        (["sweep", "storm", "--set", "warp"], "KEY=V1,V2"),
        (["sweep", "storm", "--set", "n=-4"], "n must be"),
    ],
)
def test_bad_usage_is_one_clear_line_and_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert message in err.splitlines()[0]
    assert not out


def test_an_unwritable_out_dir_is_one_line_not_a_traceback(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, out, err = run(capsys, "storm", "-n", "2", "--out", str(blocker / "sub"))
    assert code == 1 and len(err.strip().splitlines()) == 1 and str(blocker) in err


def test_no_arguments_shows_help_and_exit_2(capsys):
    code, out, _ = run(capsys)
    assert code == 2 and "vmvc sim" in out


def test_calibrate_then_validate_the_recorded_example(capsys, tmp_path):
    records = str(DATA / "this-host-records.json")
    code, out, _ = run(capsys, "calibrate", records, "--out", str(tmp_path))
    assert code == 0 and "saved:" in out and (tmp_path / "this-host.json").exists()
    code, out, _ = run(capsys, "validate", records, "--profile", str(tmp_path / "this-host.json"), "--json")
    result = json.loads(out)
    assert code == 0 and result["mape"] < 0.15


def test_sweep_summarises_points(capsys):
    code, out, _ = run(
        capsys,
        "sweep",
        "storm",
        "--profile",
        "crun",
        "--n",
        "1,4",
        "--seeds",
        "2",
        "--workers",
        "1",
        "--json",
    )
    rows = json.loads(out)
    assert code == 0 and [(r["params"]["n"], r["seed"]) for r in rows] == [(1, 0), (1, 1), (4, 0), (4, 1)]
    code, out, _ = run(capsys, "sweep", "storm", "--profile", "crun", "--n", "1,4", "--workers", "1")
    assert code == 0 and "4 runs" not in out and "sweep: storm" in out


def test_sweep_plot_and_host_overrides(capsys, tmp_path):
    argv = f"sweep storm --profile crun,microvm --n 1,8 --set cores=2 --workers 1 --plot --out {tmp_path}"
    code, out, err = run(capsys, *argv.split())
    assert code == 0 and "plot:" in err
    assert (tmp_path / "sweep-storm.png").read_bytes()[:4] == b"\x89PNG"
    rows = json.loads((tmp_path / "sweep-storm.json").read_text())
    assert {r["hosts"][0]["cpu_core_s"] is not None for r in rows} == {True}
    assert {r["params"]["cores"] for r in rows} == {2}


def test_registered_as_vmvc_sim():
    p = subprocess.run([str(VMVC), "sim", "profiles", "--json"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert {"kvm-typical", "crun"} <= {row["name"] for row in json.loads(p.stdout)}
    bad = subprocess.run([str(VMVC), "sim", "storm", "-n", "x"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "not an integer" in bad.stderr
