"""The one records format (docs/records.md): every accepted shape, boot reports, and the held-out split."""

from __future__ import annotations

import json

import pytest

from sim.calibrate import profile_from_records
from sim.cli import main as sim_main
from sim.errors import SimError
from sim.records import from_boot, normalise, slug, split
from sim.validate import validate


def boot_report(total: float = 2.0) -> dict:
    """The shape of ``vmvc vm boot --json`` (BootReport.to_dict), trimmed to what matters."""
    bounds = [
        ("qemu start-up + firmware", "spawn", "setup", 0.0, 0.1 * total),
        ("kernel setup + decompression", "setup", "kernel-entry", 0.1 * total, 0.3 * total),
        ("kernel boot to /init", "kernel-entry", "init", 0.3 * total, 0.9 * total),
        ("/init: shell + /proc", "init", "mark:init", 0.9 * total, 0.95 * total),
        ("workload", "mark:init", "mark:workload-done", 0.95 * total, total),
        ("poweroff + qemu exit", "mark:workload-done", "exit", total, total + 0.03),
    ]
    phases = [
        {
            "name": n,
            "begins": b,
            "ends": e,
            "start": s,
            "end": t,
            "seconds": t - s,
            "source": "console",
            "guest": None,
        }
        for n, b, e, s, t in bounds
    ]
    events = [{"name": e, "t": t, "source": "console"} for _, _, e, _, t in bounds]
    return {
        "machine": "microvm",
        "accel": "tcg",
        "accel_reason": "no vmx/svm",
        "workload": "true",
        "timeline": {"phases": phases, "events": events, "wall": total + 0.03, "info": {}},
    }


def test_slugs_are_stable_stage_names():
    assert slug("kernel boot to /init") == "kernel_boot_to_init"
    assert slug("/init: shell + /proc") == "init_shell_proc"
    assert slug("qemu start-up + firmware") == "qemu_start_up_firmware"


def test_a_boot_report_becomes_stages_up_to_the_workload_and_an_n1_storm():
    recs = from_boot(boot_report(2.0), cpu={"kernel_boot_to_init": 1.1, "workload": 5.0}, round=3)
    stages = [r for r in recs if r["type"] == "stage"]
    assert [r["stage"] for r in stages] == [
        "qemu_start_up_firmware",
        "kernel_setup_decompression",
        "kernel_boot_to_init",
        "init_shell_proc",
        "workload",
    ]
    assert all(r["kind"] == "vm" and r["accel"] == "tcg" and r["round"] == 3 for r in recs)
    assert stages[2]["cpu_seconds"] == 1.1
    assert stages[4]["cpu_seconds"] == pytest.approx(stages[4]["seconds"])  # capped at the stage's length
    assert "cpu_seconds" not in stages[0]
    storm = recs[-1]
    assert storm == {
        "type": "storm",
        "kind": "vm",
        "n": 1,
        "ready_s": [2.0],
        "machine": "microvm",
        "accel": "tcg",
        "round": 3,
    }


def test_every_accepted_shape_normalises_to_the_same_list():
    rec = {"type": "storm", "kind": "vm", "n": 1, "ready_s": [1.0]}
    assert normalise([rec]) == normalise(rec) == normalise({"records": [rec], "about": "x"}) == [rec]
    assert normalise({"schema": 1, "facts": {"storm": {"records": [rec]}}}) == [rec]  # a results.json
    assert normalise({"name": "p", "instances": {}, "measured": {"source_records": [rec]}}) == [rec]
    one = normalise(boot_report())
    assert normalise([boot_report(), boot_report()])[: len(one)] == [{**r, "run": 0} for r in one]
    assert normalise([boot_report(), rec])[-1] == rec  # boot reports and records mix


@pytest.mark.parametrize(
    "data,message",
    [
        ("text", "expected a list of records"),
        ({"facts": {"startup": {}}}, "without storm records"),
        ({"name": "crun", "instances": {}}, "source_records"),
        ({"timeline": {"phases": []}}, "without timeline phases"),
        ({"timeline": {"phases": boot_report()["timeline"]["phases"][:2], "events": []}}, "workload-done"),
    ],
)
def test_bad_shapes_say_what_is_wrong(data, message):
    with pytest.raises(SimError, match=message):
        normalise(data)


def test_calibrate_and_validate_read_vm_boot_json_through_the_cli(tmp_path, capsys):
    path = tmp_path / "boot.json"
    path.write_text(json.dumps([boot_report(2.0), boot_report(2.2), boot_report(1.9)]))
    assert sim_main(["calibrate", str(path), "--out", str(tmp_path / "profiles"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["profile"]["instances"]) == {"vm"}
    assert out["profile"]["measured"]["validation"]["mape"] < 0.15
    one = tmp_path / "one.json"
    one.write_text(json.dumps(boot_report(2.0)))  # a single report, as `vmvc vm boot --json` prints it
    assert sim_main(["validate", str(one), "--profile", out["saved"], "--json"]) == 0


# Measured on this kind of host (vmvc bench --suite storm, trimmed): single starts and storms.
MEASURED = [
    {"type": "host", "cores": 2, "memory_mib": 24105},
    *[
        {"type": "stage", "kind": "container", "stage": "run", "seconds": s, "cpu_seconds": c}
        for s, c in ((0.18, 0.075), (0.17, 0.07), (0.2, 0.08))
    ],
    *[
        {"type": "storm", "kind": "container", "n": n, "ready_s": r}
        for n, r in (
            (1, [0.18]),
            (2, [0.21, 0.26]),
            (4, [0.25, 0.3, 0.33, 0.4]),
            (8, [0.3 + 0.06 * i for i in range(8)]),
            (16, [0.3 + 0.06 * i for i in range(16)]),
        )
    ],
]


def test_the_held_out_split_keeps_stages_and_fit_storms_together():
    fit, held = split(MEASURED, {"container": {2, 8}})
    assert sorted(r["n"] for r in held) == [2, 8]
    assert sum(r["type"] == "stage" for r in fit) == 3 and sorted(
        r["n"] for r in fit if r["type"] == "storm"
    ) == [1, 4, 16]


def test_a_profile_fitted_on_part_predicts_the_held_out_storms():
    fit, held = split(MEASURED, {"container": {2, 8}})
    data = profile_from_records(
        fit, about={"title": "t", "description": "d", "sources": [{"id": "x", "cite": "here", "url": ""}]}
    )
    assert data["title"] == "t" and data["sources"][0]["cite"] == "here"
    v = validate(data, held, seeds=3)
    assert [r["n"] for r in v.rows] == [2, 8]
    assert all(r["predicted"] > 0 for r in v.rows)
    assert v.mape < 0.5  # a sane fit; the 15 % bar is the benchmark's to report, not a unit test's
