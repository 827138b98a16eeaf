"""report.html: one self-contained page (inline CSS, charts as base64 PNG), readable offline and
projectable in a lecture: the claims table first, then one section per suite, then the host."""

from __future__ import annotations

import base64
import html

from benchmarks.claims import title as claim_title
from benchmarks.report.text import fmt, host_rows, labels_text, suite_order

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.4}
h1{margin-bottom:.2em} .sub{color:#555;margin-top:0}
table{border-collapse:collapse;width:100%;margin:.6em 0 1.2em;font-size:.9em}
th,td{border:1px solid #ddd;padding:4px 6px;vertical-align:top;text-align:left}
th{background:#f3f3f3} td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.v{font-weight:600;padding:1px 6px;border-radius:3px;white-space:nowrap}
.v-reproduced{background:#c8e6c9}.v-reproduced-with-a-caveat{background:#fff59d}
.v-not-reproduced-here{background:#ffcdd2}.v-not-measured-here{background:#e0e0e0}
.partial{background:#ffcdd2;border:2px solid #c62828;padding:.6em;font-weight:600}
.status{font-size:.85em;color:#555} img{max-width:100%;height:auto;border:1px solid #eee}
.note{color:#444;font-size:.9em} code{background:#f5f5f5;padding:0 3px}
"""


def esc(x) -> str:
    return html.escape(str(x))


def verdict_badge(verdict: str) -> str:
    return f'<span class="v v-{verdict.replace(" ", "-")}">{esc(verdict)}</span>'


def render(res, charts: dict[str, bytes], command: str, tables: dict | None = None) -> str:
    meta, host = res.meta, res.host
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width,initial-scale=1">',
             "<title>vmvc bench: VMs vs containers, measured</title>", f"<style>{CSS}</style></head><body>",
             "<h1>VMs vs containers, measured on this host</h1>",
             f'<p class="sub">{esc(host.get("cpu", "?"))}, {esc(host.get("cpus", "?"))} CPUs, Linux '
             f'{esc(host.get("kernel", "?"))}; VM accelerator '
             f'<b>{esc(host.get("accelerator", {}).get("accel"))}'
             f'</b>; {esc(meta.get("mode", "?"))} run started {esc(meta.get("started", "?"))}, '
             f'{fmt(meta.get("wall_seconds"))} s. Reproduce: <code>{esc(command)}</code></p>']
    if res.partial:
        parts.append('<p class="partial">PARTIAL REPORT: the run was interrupted (Ctrl-C). Suites marked '
                     '"interrupted" or "not run" are incomplete; what was measured before is kept.</p>')
    parts.append("<h2>The tutorial's claims</h2><table><tr><th>id</th><th>the tutorial says</th>"
                 "<th>measured here</th><th>verdict</th><th>why</th><th>published</th></tr>")
    for c in res.claims:
        parts.append(f"<tr><td>{esc(c.id)}</td><td>{esc(claim_title(c.id))}</td><td>{esc(c.measured)}</td>"
                     f"<td>{verdict_badge(c.verdict)}</td><td>{esc(c.reason)}</td><td>{esc(c.published)}</td></tr>")
    parts.append("</table>")
    for name in suite_order(res):
        entry = res.suites[name]
        parts.append(f'<h2 id="{esc(name)}">{esc(entry.get("title", name))}</h2>')
        status = f'{entry.get("status")}' + (f': {entry.get("reason")}' if entry.get("reason") else "")
        parts.append(f'<p class="status">suite <code>{esc(name)}</code>: {esc(status)}; '
                     f'{fmt(entry.get("seconds"))} s</p>')
        if name in charts:
            data = base64.b64encode(charts[name]).decode()
            parts.append(f'<p><img alt="{esc(name)} chart" src="data:image/png;base64,{data}"></p>')
        for key in ("chart_error", "claims_error", "table_error"):
            if entry.get(key):
                parts.append(f'<p class="note">{esc(key.replace("_", " "))}: {esc(entry[key])}</p>')
        for note in res.notes.get(name, []):
            parts.append(f'<p class="note">{esc(note)}</p>')
        if name in (tables or {}):
            columns, trows = tables[name]
            parts.append("<table><tr>" + "".join(f"<th>{esc(c)}</th>" for c in columns) + "</tr>")
            parts += ["<tr>" + "".join(f"<td>{esc(fmt(x))}</td>" for x in r) + "</tr>" for r in trows]
            parts.append("</table>")
        rows = sorted(res.summaries(name), key=lambda s: (s.metric, s.median))
        if rows:
            parts.append("<table><tr><th>method</th><th>metric</th><th>labels</th><th>median</th>"
                         "<th>IQR</th><th>n</th><th>unit</th></tr>")
            for s in rows:
                parts.append(f"<tr><td>{esc(s.method)}</td><td>{esc(s.metric)}</td>"
                             f"<td>{esc(labels_text(s.labels))}</td><td class=num>{fmt(s.median)}</td>"
                             f"<td class=num>{fmt(s.q1)} – {fmt(s.q3)}</td><td class=num>{s.n}</td>"
                             f"<td>{esc(s.unit)}</td></tr>")
            parts.append("</table>")
        facts = res.facts.get(name)
        if facts:
            parts.append('<p class="note">facts: ' + esc("; ".join(f"{k} = {v}" for k, v in facts.items()))
                         + "</p>")
    parts.append("<h2>The host</h2><table>")
    for k, v in host_rows(res):
        parts.append(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>")
    parts.append("</table></body></html>")
    return "\n".join(parts)
