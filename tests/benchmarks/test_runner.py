"""The runner with made-up suites: a broken or failing suite is reported, never fatal; a suite the host
cannot run is skipped with the doctor's reason; the four outputs are written and self-contained."""

from __future__ import annotations

import json
import re
import sys
import textwrap

import pytest

from benchmarks import claims, report, runner

SUITES = {
    "good": '''
        NAME, TITLE, NEEDS, CLAIMS = "good", "A good suite", ["python"], ["C5"]
        from benchmarks.suite import ClaimRow
        def run(ctx):
            advance = ctx.progress("work", 4)
            for r, m in ctx.rounds(["a", "b"], 2, warmup=0):
                ctx.sample(m, "start", 1.0 + r + (m == "b"), round=r)
                advance(1, m)
            ctx.note("a note"); ctx.fact("accel", "tcg")
        def claims(res):
            return [ClaimRow("C5", f"a {res.median('good', 'a', 'start'):.1f} ms", "reproduced")]
        def chart(res, ax):
            ax.bar(["a", "b"], [res.median("good", m, "start") for m in "ab"])
    ''',
    "shares": '''
        NAME, TITLE, NEEDS, CLAIMS = "shares", "Reads what another suite left", [], []
        BUDGET = {"quick": 7.5, "full": 600}
        def run(ctx):
            ctx.fact("budget", ctx.budget)
            ctx.fact("seen", ctx.scope.values.get("made"))
            ctx.scope.values["made"] = ctx.suite
    ''',
    "broken": "import no_such_module_anywhere\n",
    "boom": '''
        NAME, TITLE, NEEDS, CLAIMS = "boom", "Fails half-way", [], ["C6"]
        def run(ctx):
            ctx.sample("x", "start", 1.0)
            raise RuntimeError("it broke\\nwith a second line")
    ''',
    "needy": '''
        NAME, TITLE, NEEDS, CLAIMS = "needy", "Needs the impossible", ["kvm.hw-nope"], ["C7"]
        def run(ctx):
            raise AssertionError("must not run")
    ''',
    "later": '''
        NAME, TITLE, NEEDS, CLAIMS = "later", "Not yet", [], []
        from benchmarks.suite import NotMeasured
        def run(ctx):
            raise NotMeasured("needs issue 99")
    ''',
}


@pytest.fixture
def fake_suites(tmp_path, monkeypatch):
    pkg = tmp_path / "fakesuites"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name, body in SUITES.items():
        (pkg / f"{name}.py").write_text(textwrap.dedent(body))
    (pkg / "_helper.py").write_text("raise RuntimeError('private modules are not suites')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield runner.discover("fakesuites")
    for name in [m for m in sys.modules if m.startswith("fakesuites")]:
        del sys.modules[name]


def test_statuses(fake_suites):
    assert list(fake_suites) == ["boom", "broken", "good", "later", "needy", "shares"]
    assert "ModuleNotFoundError" in fake_suites["broken"].error
    res = runner.run(None, quick=True, suites=fake_suites)
    assert res.facts["shares"] == {"budget": 7.5, "seen": None}  # its own budget; the scope is the run's
    st = {n: (e["status"], e["reason"]) for n, e in res.suites.items()}
    assert st["good"] == ("ok", "")
    assert st["broken"][0] == "failed" and "no_such_module_anywhere" in st["broken"][1]
    assert st["boom"] == ("failed", "RuntimeError: it broke with a second line")
    assert st["needy"] == ("skipped", "kvm.hw-nope: not probed")
    assert st["later"] == ("not measured", "needs issue 99")
    assert len(res.samples) == 5  # the failing suite's sample is kept
    assert res.notes["good"] == ["a note"] and res.facts["good"] == {"accel": "tcg"}
    assert not res.partial and res.host["kernel"] and res.host["accelerator"]["reason"]


def test_report_files_are_complete_and_self_contained(fake_suites, tmp_path):
    res = runner.run(["good", "boom", "needy"], quick=True, suites=fake_suites)
    res.claims = claims.evaluate(res, fake_suites)
    paths = report.write(res, tmp_path / "out", fake_suites, "vmvc bench --quick")
    assert sorted(p.name for p in paths.values()) == ["report.html", "report.md", "results.csv",
                                                      "results.json"]
    table = {c.id: c for c in res.claims}
    assert list(table) == [f"C{i}" for i in range(1, 14)]
    assert table["C5"].measured == "a 1.5 ms" and table["C5"].verdict == "reproduced"
    assert table["C6"].reason.startswith("the boom suite failed: RuntimeError")
    assert table["C7"].reason.startswith("the needy suite skipped: kvm.hw-nope")
    page = paths["html"].read_text()
    assert re.findall(r'<img [^>]*src="data:image/png;base64,', page) and "<script" not in page
    assert not re.findall(r'(?:src|href)="(?:https?:)?//', page)  # nothing fetched from anywhere
    assert "needs issue" not in page and "kvm.hw-nope: not probed" in page
    assert (tmp_path / "out" / "charts" / "good.png").stat().st_size > 1000
    assert "![good](charts/good.png)" in paths["md"].read_text()
    assert json.loads(paths["json"].read_text())["suites"]["needy"]["status"] == "skipped"


def test_interrupt_between_rounds_keeps_the_samples(fake_suites, monkeypatch):
    def interrupted(ctx):
        ctx.sample("a", "start", 1.0)
        raise KeyboardInterrupt

    monkeypatch.setattr(fake_suites["good"].module, "run", interrupted)
    res = runner.run(["good", "later"], quick=True, suites=fake_suites)
    assert res.partial and res.suites["good"]["status"] == "interrupted" and len(res.samples) == 1
    assert res.suites["later"]["status"] == "not run"


def test_suites_of_one_run_share_its_scope_and_not_the_next_runs(fake_suites, monkeypatch):
    seen = []
    monkeypatch.setattr(fake_suites["good"].module, "run", lambda ctx: ctx.scope.values.update(made="good"))
    monkeypatch.setattr(fake_suites["later"].module, "run", lambda ctx: seen.append(dict(ctx.scope.values)))
    runner.run(["good", "later"], quick=False, suites=fake_suites)
    runner.run(["later"], quick=False, suites=fake_suites)
    assert seen == [{"made": "good"}, {}]
