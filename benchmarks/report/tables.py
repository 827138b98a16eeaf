"""A suite's own table for its report section (e.g. security: class, tried, held, details), from its
optional ``table(res) -> (columns, rows)``; a table that raises is left out, its error kept in the status."""

from __future__ import annotations


def render(res, suites_found: dict) -> dict[str, tuple[list[str], list[list]]]:
    from benchmarks.runner import one_line

    out = {}
    for name, entry in res.suites.items():
        info = suites_found.get(name)
        make = getattr(info.module, "table", None) if info and info.module else None
        if make is None or entry.get("status") in ("skipped", "not run"):
            continue
        try:
            columns, rows = make(res)
            if rows:
                out[name] = (list(columns), [list(r) for r in rows])
        except Exception as e:
            entry["table_error"] = one_line(e)
    return out
