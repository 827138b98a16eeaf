"""``vmvc bench --compare a.json b.json …``: a class's results side by side, one column per host.

Students' laptops, lab machines and a server with hardware KVM each run ``vmvc bench``; merged here, the
claims table shows where a verdict depends on the machine (a VM start under TCG emulation against one
under KVM, for instance), and the measurements every host made are lined up as ratios to the first.
"""

from __future__ import annotations

import html
import os

from benchmarks.claims import CLAIMS


def _name(res, path: str) -> str:
    host = getattr(res, "host", {}) or {}
    accel = (host.get("accelerator") or {}).get("accel", "?")
    return f"{os.path.basename(path)} ({host.get('cpus', '?')} CPU, {accel})"


def compare(paths: list[str], out: str) -> dict[str, str]:
    from benchmarks import load_results

    loaded = [(p, load_results(p)) for p in paths]
    names = [_name(r, p) for p, r in loaded]
    if len(set(names)) < len(names):  # the same file name from several folders: say which folder
        names = [f"{os.path.basename(os.path.dirname(os.path.abspath(p))) or p}/{n}" for n, (p, _) in
                 zip(names, loaded, strict=True)]
    claims = [{c.id: c for c in (r.claims or [])} for _, r in loaded]
    md = ["# vmvc bench: hosts compared", "", "| host | kernel | CPU | cgroups | VM accelerator |",
          "|---|---|---|---|---|"]
    for name, (_, r) in zip(names, loaded, strict=True):
        h = getattr(r, "host", {}) or {}
        md.append(f"| {name} | {h.get('kernel', '?')} | {h.get('cpu', '?')} | "
                  f"{(h.get('cgroups') or {}).get('layout', '?')} | "
                  f"{(h.get('accelerator') or {}).get('accel', '?')} |")
    md += ["", "## Claims", "", "| claim | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for cid in sorted(CLAIMS, key=lambda c: int(c[1:])):
        cells = []
        for table in claims:
            row = table.get(cid)
            cells.append(f"**{row.verdict}**: {(row.measured or row.reason)[:120]}" if row else "—")
        md.append(f"| {cid} {CLAIMS[cid][0]} | " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    md += ["", "## Measurements every host made (median; ratio to the first host)", "",
           "| suite | method | metric | " + " | ".join(names) + " |", "|---|---|---|" + "---|" * len(names)]
    keyed = [{s.key(): s for s in r.summaries()} for _, r in loaded]
    common = set(keyed[0]).intersection(*keyed[1:]) if keyed else set()
    for key in sorted(common, key=str):
        first = keyed[0][key]
        cells = []
        for table in keyed:
            s = table[key]
            ratio = f" ({s.median / first.median:.2f}×)" if first.median else ""
            cells.append(f"{s.median:.4g} {s.unit}{ratio}")
        labels = ", ".join(f"{k}={v}" for k, v in key[3])
        method = f"{key[1]} {labels}".strip()
        md.append(f"| {key[0]} | {method} | {key[2]} | " + " | ".join(cells) + " |")
    os.makedirs(out, exist_ok=True)
    md_path = os.path.join(out, "compare.md")
    with open(md_path, "w") as f:
        f.write("\n".join(md) + "\n")
    html_path = os.path.join(out, "compare.html")
    with open(html_path, "w") as f:
        f.write(_html(md))
    return {"md": md_path, "html": html_path}


def _html(md: list[str]) -> str:
    """The same tables as self-contained HTML (no external files)."""
    out = ['<!doctype html><html><head><meta charset="utf-8"><title>vmvc bench: hosts compared</title>'
           "<style>body{font-family:sans-serif;margin:20px}table{border-collapse:collapse;margin:10px 0}"
           "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;font-size:13px}</style>"
           "</head><body>"]
    in_table = False
    for line in md:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            if set(line) <= set("|-"):
                continue
            tag = "th" if not in_table else "td"
            if not in_table:
                out.append("<table>")
                in_table = True
            row = "".join(f"<{tag}>{html.escape(c).replace('**', '')}</{tag}>" for c in cells)
            out.append(f"<tr>{row}</tr>")
            continue
        if in_table:
            out.append("</table>")
            in_table = False
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            out.append(f"<h{level}>{html.escape(line.lstrip('# '))}</h{level}>")
        elif line:
            out.append(f"<p>{html.escape(line)}</p>")
    if in_table:
        out.append("</table>")
    return "\n".join(out) + "</body></html>\n"
