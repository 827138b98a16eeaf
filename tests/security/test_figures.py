"""``vmvc doctor --security`` (issue 10's acceptance figures), through the real CLI on this host: every
escape blocked, every hostile input rejected, every fault survived, the load figure measured, and the
throw-away state root it attacks gone afterwards."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import tempfile

from runtime.security import attempts, figures, hostile
from tests.containers.conftest import REAL


def real(fn):
    return functools.reduce(lambda f, mark: mark(f), REAL, fn)


@real
def test_doctor_security_reports_every_class_held(no_leaks):
    tmp = tempfile.gettempdir()  # the run's own (conftest): short enough for the daemon's socket path
    roots = lambda: {n for n in os.listdir(tmp) if n.startswith("vmvc-security-")}  # noqa: E731
    before = roots()
    r = subprocess.run([*hostile.vmvc_argv(), "doctor", "--security", "--json"], capture_output=True,
                       text=True, timeout=600)
    assert r.stdout, r.stderr
    result = json.loads(r.stdout)
    assert r.returncode == 0, [figures.details(row) for row in result["rows"] if row["verb"] != "ratio"
                               and row["held"] != row["tried"]]
    rows = {row["class"]: row for row in result["rows"]}
    assert list(rows) == ["escape attempts", "hostile inputs (CLI)", "hostile requests (API)", "faults",
                          "load held"]
    assert rows["escape attempts"]["tried"] == len(attempts.ATTEMPTS)
    assert rows["escape attempts"]["blocked_unconfined"] >= len(attempts.ATTEMPTS) - 4  # as test_escapes
    assert rows["hostile inputs (CLI)"]["tried"] == len(hostile.BAD_RUN_FLAGS) + 9 + 4
    assert rows["hostile requests (API)"]["tried"] == len(hostile.BAD_REQUESTS)
    assert rows["faults"]["tried"] == 7
    for name, row in rows.items():
        if name != "load held":
            assert row["held"] == row["tried"], figures.details(row)
    load = result["load"]
    assert load["idle_ms"] > 0 and load["flood_ms"] > 0 and load["busy_ms"] > 0
    assert rows["load held"]["held"] == round(load["ratio"], 2)
    assert load["log_bytes"] <= load["log_limit"] + (1 << 20)  # the flood's log stayed within its rotation
    assert roots() == before  # its throw-away state root is gone


def test_the_table_says_what_got_through():
    row = {"class": "faults", "verb": "survived", "tried": 2, "held": 1, "measured": "m",
           "items": [{"name": "a", "held": True, "detail": "fine"},
                     {"name": "b", "held": False, "detail": "hung"}]}
    assert figures.summary(row) == "1 of 2 survived"
    assert figures.details(row) == "NOT HELD: b: hung"
    assert not figures.all_held({"rows": [row]})
    ratio = {"class": "load held", "verb": "ratio", "tried": 28, "held": 1.5, "items": [], "measured": "m",
             "detail": "d"}
    assert figures.summary(ratio) == "1.50x start latency" and figures.details(ratio) == "d"
    assert figures.all_held({"rows": [ratio]})


def test_doctor_security_without_root_is_one_line(monkeypatch, capsys):
    from runtime.doctor import report, security

    fake = report.Report([report.Check("root", "system", report.MISSING, "euid 1000", "run as root")], 0.0)
    monkeypatch.setattr("runtime.doctor.host", lambda: fake)
    assert security.main() == 1
    err = capsys.readouterr().err
    assert err.startswith("vmvc: doctor --security needs root") and err.count("\n") == 1


def test_a_killed_runs_state_root_is_reaped_by_the_next(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    for name, owner in (("vmvc-security-dead", dead.pid), ("vmvc-security-live", os.getpid()),
                        ("unrelated", dead.pid)):
        (tmp_path / name / "containers").mkdir(parents=True)
        (tmp_path / name / "owner.pid").write_text(str(owner))
    (tmp_path / "vmvc-security-open").mkdir(mode=0o777)  # anyone could have made this one: not touched
    os.chmod(tmp_path / "vmvc-security-open", 0o777)
    (tmp_path / "vmvc-security-open" / "owner.pid").write_text(str(dead.pid))
    figures._reap_stale(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["unrelated", "vmvc-security-live", "vmvc-security-open"]
