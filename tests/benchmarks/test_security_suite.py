"""The security suite (issue 10's acceptance figures and the confinement's cost): one real quick run
through the suite contract and the report writer, and its table and claim from fixed results."""

from __future__ import annotations

import functools

from benchmarks import report
from benchmarks.runner import SuiteInfo
from benchmarks.suite import Results, Sample, SuiteContext
from benchmarks.suites import security
from tests.containers.conftest import REAL


def real(fn):
    return functools.reduce(lambda f, mark: mark(f), REAL, fn)


@real
def test_a_quick_run_counts_every_class_and_times_every_kind(tmp_path, no_leaks):
    ctx = SuiteContext("security", quick=True, workdir=tmp_path)
    security.run(ctx)
    res = Results(ctx.samples, {"security": ctx.facts})
    classes = {c["class"]: c for c in res.fact("security", "classes")}
    assert set(classes) == {"escape attempts", "hostile inputs (CLI)", "hostile requests (API)", "faults",
                            "load held"}
    for name in ("escape attempts", "hostile inputs (CLI)", "hostile requests (API)", "faults"):
        verb = {"escape attempts": "blocked", "faults": "survived"}.get(name, "rejected")
        assert res.median("security", name, verb) == res.median("security", name, "tried") > 0, classes[name]
    for kind in security.KINDS:
        assert res.get("security", kind, "start").n == 10
        assert res.median("security", kind, "pivot_root→exec step") > 0
    for kind in ("default", "unconfined"):
        assert res.median("security", kind, "idle container: cgroup", n=8) > 0
    assert res.median("security", "start beside: flood", "busybox true --rm") > 0
    assert [r.verdict for r in security.claims(res)] == ["reproduced"]
    columns, rows = security.table(res)
    assert columns == ["class", "tried", "held", "details"]
    assert [r[0] for r in rows][-2:] == ["cost per start", "cost per idle container"]


def fixed(blocked: int = 26) -> Results:
    s = [Sample("security", "escape attempts", "tried", 26, "count"),
         Sample("security", "escape attempts", "blocked", blocked, "count")]
    s.append(Sample("security", "seccomp filter", "kernel memory per filter", 4.0, "kB"))
    for kind, ms, step in (("default", 20.4, 0.45), ("unconfined", 20.0, 0.38), ("privileged", 40.0, 0.5)):
        s += [Sample("security", kind, "start", ms), Sample("security", kind, "pivot_root→exec step", step)]
    for kind, kb in (("default", 290.0), ("unconfined", 282.0)):
        for metric, v in (("cgroup", kb), ("pss", 200.0), ("cpu", 0.0)):
            s.append(Sample("security", kind, f"idle container: {metric}", v, "kB", 0, {"n": 5}))
    classes = [{"class": "escape attempts", "tried": 26, "held": f"{blocked} of 26 blocked",
                "details": "NOT HELD: user namespace" if blocked < 26 else "fine", "measured": "m"}]
    return Results(s, {"security": {"classes": classes}})


def test_the_table_says_the_cost_per_start_and_per_idle_container():
    columns, rows = security.table(fixed())
    by = {r[0]: r for r in rows}
    assert by["cost per start"][2] == "+0.070 ms (target ≤ 1 ms: met)"
    assert "+0.40 ms" in by["cost per start"][3]
    assert by["cost per idle container"][1:3] == ["1 x 5", "4 kB kernel memory; 0.0 CPU-us/s; no process"]
    assert "(+8 kB;" in by["cost per idle container"][3]


def test_an_escape_that_got_through_is_not_reproduced():
    assert security.claims(fixed())[0].verdict == "reproduced"
    row = security.claims(fixed(blocked=25))[0]
    assert row.verdict == "not reproduced here" and "user namespace" in row.reason
    assert security.claims(Results())[0].verdict == "not measured here"


def test_the_report_shows_the_table(tmp_path):
    res = fixed()
    res.suites = {"security": {"title": security.TITLE, "status": "ok", "claims": ["C5"]}}
    found = {"security": SuiteInfo("security", security, security.TITLE, security.NEEDS, security.CLAIMS)}
    paths = report.write(res, tmp_path / "out", found)
    md, page = paths["md"].read_text(), paths["html"].read_text()
    assert "| escape attempts | 26 | 26 of 26 blocked | fine |" in md and "<td>cost per start</td>" in page
