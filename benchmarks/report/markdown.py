"""report.md: the same report as text (for a repository, a terminal or a pull request); the charts are
PNG files in ``charts/`` next to it."""

from __future__ import annotations

from benchmarks.claims import title as claim_title
from benchmarks.report.text import fmt, host_rows, labels_text, suite_order


def cell(x) -> str:
    return str(x).replace("|", "\\|").replace("\n", " ")


def render(res, chart_files: dict[str, str], command: str, tables: dict | None = None) -> str:
    h, meta = res.host, res.meta
    out = ["# VMs vs containers, measured on this host", "",
           f"{h.get('cpu')}, {h.get('cpus')} CPUs, Linux {h.get('kernel')}; VM accelerator "
           f"**{h.get('accelerator', {}).get('accel')}**; {meta.get('mode')} run started "
           f"{meta.get('started')}, "
           f"{fmt(meta.get('wall_seconds'))} s. Reproduce: `{command}`", ""]
    if res.partial:
        out += ["> **PARTIAL REPORT**: the run was interrupted (Ctrl-C); what was measured before is kept.",
                ""]
    out += ["## The tutorial's claims", "",
            "| id | the tutorial says | measured here | verdict | why | published |",
            "|---|---|---|---|---|---|"]
    for c in res.claims:
        out.append(f"| {c.id} | {cell(claim_title(c.id))} | {cell(c.measured)} | **{c.verdict}** | "
                   f"{cell(c.reason)} | {cell(c.published)} |")
    for name in suite_order(res):
        entry = res.suites[name]
        out += ["", f"## {entry.get('title', name)}", "",
                f"Suite `{name}`: {entry.get('status')}"
                + (f": {entry.get('reason')}" if entry.get("reason") else "")
                + f" ({fmt(entry.get('seconds'))} s)", ""]
        if name in chart_files:
            out += [f"![{name}]({chart_files[name]})", ""]
        out += [f"- {note}" for note in res.notes.get(name, [])]
        if name in (tables or {}):
            columns, trows = tables[name]
            out += ["", "| " + " | ".join(map(cell, columns)) + " |", "|" + "---|" * len(columns)]
            out += ["| " + " | ".join(cell(fmt(x)) for x in r) + " |" for r in trows]
        rows = sorted(res.summaries(name), key=lambda s: (s.metric, s.median))
        if rows:
            out += ["", "| method | metric | labels | median | IQR | n | unit |",
                    "|---|---|---|---:|---:|---:|---|"]
            out += [f"| {s.method} | {s.metric} | {cell(labels_text(s.labels))} | {fmt(s.median)} | "
                    f"{fmt(s.q1)}–{fmt(s.q3)} | {s.n} | {s.unit} |" for s in rows]
    out += ["", "## The host", "", "| | |", "|---|---|"]
    out += [f"| {cell(k)} | {cell(v)} |" for k, v in host_rows(res)]
    return "\n".join(out) + "\n"
