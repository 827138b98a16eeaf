"""results.json round trip: what a run writes, a report (or a notebook) reads back unchanged."""

from __future__ import annotations

import csv
import json

import pytest

from benchmarks.report import data
from benchmarks.suite import SCHEMA, ClaimRow, Results, Sample, SuiteContext


def a_run() -> Results:
    res = Results([Sample("startup", m, "start", v, round=r, labels={"accel": "tcg"} if m == "vm" else {})
                   for r in range(9) for m, v in (("engine", 5.0 + r), ("vm", 1500.0 + 10 * r))],
                  {"startup": {"accelerator": "tcg"}})
    res.notes = {"startup": ["every VM row is TCG"]}
    res.suites = {"startup": {"title": "Start-up", "status": "ok", "reason": "", "seconds": 1.5,
                              "claims": ["C3"]}}
    res.host = {"kernel": "6.18", "accelerator": {"accel": "tcg", "reason": "no VT-x"}}
    res.meta = {"mode": "quick"}
    res.claims = [ClaimRow("C3", "5 ms vs 1.5 s", "reproduced with a caveat", "TCG", "Firecracker")]
    res.partial = True
    return res


def test_round_trip_keeps_everything(tmp_path):
    res = a_run()
    path = data.write_json(res, tmp_path / "results.json")
    raw = json.loads(path.read_text())
    assert raw["schema"] == SCHEMA and raw["partial"] is True and raw["samples_complete"] is True
    back = data.load(path)
    assert [s.__dict__ for s in back.samples] == [s.__dict__ for s in res.samples]
    assert back.facts == res.facts and back.notes == res.notes and back.suites == res.suites
    assert back.host == res.host and back.meta == res.meta and back.partial
    assert back.claims == res.claims
    assert back.get("startup", "vm", "start", accel="tcg") == res.get("startup", "vm", "start", accel="tcg")
    assert back.median("startup", "engine", "start") == 9.0


def test_trimmed_file_keeps_the_summaries_of_all_samples(tmp_path):
    res = a_run()
    path = data.write_json(res, tmp_path / "small.json", samples_per_key=3)
    back = data.load(path)
    assert len(back.samples) == 6  # 3 per measurement
    full = res.get("startup", "engine", "start")
    assert back.get("startup", "engine", "start") == full and full.n == 9
    assert {s.key() for s in back.summaries()} == {s.key() for s in res.summaries()}


def test_csv_has_one_row_per_sample(tmp_path):
    res = a_run()
    with open(data.write_csv(res, tmp_path / "r.csv")) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(res.samples)
    assert json.loads(rows[1]["labels"]) == {"accel": "tcg"} and float(rows[0]["value"]) == 5.0


@pytest.mark.parametrize("content, why", [("{", "not JSON"), ('{"a": 1}', "no 'schema'"),
                                          ('{"schema": 99}', "schema 99")])
def test_a_bad_results_file_is_one_clear_error(tmp_path, content, why):
    p = tmp_path / "bad.json"
    p.write_text(content)
    with pytest.raises(ValueError, match=why):
        data.load(p)


def test_rounds_interleave_after_warmup():
    pairs = list(SuiteContext.rounds(["a", "b", "c"], 2, warmup=1))
    assert [r for r, _ in pairs] == [-1] * 3 + [0] * 3 + [1] * 3
    assert [m for _, m in pairs[3:6]] == ["a", "b", "c"] and [m for _, m in pairs[6:]] == ["b", "c", "a"]


def test_recorded_results_load_without_root():
    from benchmarks import load_results

    res = load_results()
    assert res.samples and res.summaries() and res.host.get("kernel")
    assert [c.id for c in res.claims][:13] == [f"C{i}" for i in range(1, 14)]


def test_recorded_file_can_take_a_suite_from_another_run(tmp_path):
    from benchmarks.recorded import record

    first, second = a_run(), Results([Sample("workload", "native", "cpu", 10.0, "it/s")])
    first.suites["workload"] = {"title": "W", "status": "failed", "reason": "KeyError"}
    second.suites["workload"] = {"title": "W", "status": "ok", "reason": "", "claims": ["C7"]}
    a, b = data.write_json(first, tmp_path / "a.json"), data.write_json(second, tmp_path / "b.json")
    back = data.load(record([str(a), str(b)], str(tmp_path / "rec.json"), samples_per_key=2))
    assert back.suites["workload"]["status"] == "ok" and back.median("workload", "native", "cpu") == 10.0
    assert back.get("startup", "engine", "start").n == 9
    assert len(back.values("startup", "engine", "start")) == 2
    assert back.meta["merged_from"] == {str(a): ["startup", "workload"], str(b): ["workload"]}
    assert [c.id for c in back.claims][:13] == [f"C{i}" for i in range(1, 14)]


def test_rounds_within_a_budget_stop_at_a_round_boundary_and_say_so():
    ctx = SuiteContext("s", budget=0.0)  # used up at once: only the rounds that always run
    pairs = list(ctx.rounds_within(["a", "b"], 5, warmup=1, least=2, what="boots"))
    assert [r for r, _ in pairs] == [-1, -1, 0, 0, 1, 1]  # whole rounds: every method keeps the same n
    assert ctx.facts["rounds:boots"] == {"planned": 5, "done": 2}
    assert ctx.notes == ["boots: 2 of 5 rounds, then this suite's time budget (0 s) was used up; the "
                         "medians have n = 2"]
    free = SuiteContext("s")  # no budget: the plain interleaved rounds, nothing noted
    assert list(free.rounds_within(["a", "b"], 3, warmup=0)) == list(SuiteContext.rounds(["a", "b"], 3, 0))
    assert free.facts["rounds:rounds"] == {"planned": 3, "done": 3} and not free.notes
