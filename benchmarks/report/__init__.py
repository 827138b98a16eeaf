"""The report's four outputs from one :class:`~benchmarks.suite.Results`: ``results.json``,
``results.csv``, ``report.html`` (self-contained) and ``report.md`` (charts in ``charts/``)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.report import charts, data, html, markdown, tables
from benchmarks.report.data import load


def write(res, out: str | Path, suites_found: dict, command: str = "vmvc bench") -> dict[str, Path]:
    """Write everything into ``out`` (created); returns {"json", "csv", "html", "md": path}."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pngs = charts.render(res, suites_found)  # before the JSON: chart errors are noted in the statuses
    chart_dir = out / "charts"
    chart_files = {}
    if pngs:
        chart_dir.mkdir(exist_ok=True)
        for name, png in pngs.items():
            (chart_dir / f"{name}.png").write_bytes(png)
            chart_files[name] = f"charts/{name}.png"
    suite_tables = tables.render(res, suites_found)
    paths = {"json": data.write_json(res, out / "results.json"),
             "csv": data.write_csv(res, out / "results.csv")}
    paths["html"] = out / "report.html"
    paths["html"].write_text(html.render(res, pngs, command, suite_tables))
    paths["md"] = out / "report.md"
    paths["md"].write_text(markdown.render(res, chart_files, command, suite_tables))
    return paths


__all__ = ["write", "load"]
