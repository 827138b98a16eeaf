"""Notebook displays (issue 11): a model result, a VM boot report and bench results show as HTML
tables (and a plot), not as raw reprs."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")


def test_a_model_result_shows_its_summary_and_plot():
    import sim

    html = sim.run("storm", profile="crun", n=4)._repr_html_()
    assert html.startswith("<table>") and "ready median / p95" in html and "crun (container)" in html
    assert '<img src="data:image/png;base64,' in html


def test_a_boot_report_shows_its_phases_and_timeline():
    from runtime.vm.accel import Decision
    from runtime.vm.boot import BootReport
    from runtime.vm.kernel import Kernel
    from runtime.vm.timeline import Line, build

    timeline = build([Line(0.1, "[    0.000000] Linux version"), Line(0.5, "Run /init as init process")],
                     0.6, 0.6, info={"machine": "microvm"})
    kernel = Kernel("/k", "0" * 64, "6.1", "cache")
    report = BootReport(timeline, Decision("tcg", "auto", "no VT-x"), kernel, [])
    html = report._repr_html_()
    assert "microvm under tcg, kernel 6.1" in html and "<th>phase</th>" in html
    assert all(p.name in html for p in timeline.phases) and "data:image/png;base64," in html


def test_bench_results_show_claims_and_summaries():
    from benchmarks.suite import ClaimRow, Results, Sample

    r = Results([Sample("startup", "engine", "start", v) for v in (4.0, 5.0, 6.0)])
    r.claims.append(ClaimRow("C3", "engine 5.0 ms", _verdicts()[0]))
    html = r._repr_html_()
    assert "<caption>claims</caption>" in html and "C3" in html and "engine 5.0 ms" in html
    assert "<td>5 ms</td>" in html and "<td>3</td>" in html


def _verdicts():
    from benchmarks.suite import VERDICTS

    return list(VERDICTS)
