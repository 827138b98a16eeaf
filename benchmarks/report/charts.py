"""Each suite's chart as a PNG: drawn by the suite's own ``chart(res, ax)`` on a fresh figure (Agg)."""

from __future__ import annotations

import io


def render(res, suites_found: dict) -> dict[str, bytes]:
    """{suite: PNG bytes} for every suite with results and a ``chart``; a chart that raises is left out
    and its error kept in the suite's status (``chart_error``)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from benchmarks.runner import one_line

    out = {}
    for name, entry in res.suites.items():
        info = suites_found.get(name)
        draw = getattr(info.module, "chart", None) if info and info.module else None
        if draw is None or not res.summaries(name):
            continue
        fig, ax = plt.subplots(figsize=(9, 4.8))
        try:
            draw(res, ax)
            fig.tight_layout()
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
            out[name] = buf.getvalue()
        except Exception as e:
            entry["chart_error"] = one_line(e)
        finally:
            plt.close(fig)
    return out
