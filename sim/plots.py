"""Plots for results (matplotlib, imported only when a plot is drawn).

Each function takes a result (or a list of them) and an optional ``ax`` and returns the figure,
so a notebook shows it and the CLI saves it (``fig.savefig(path)``).

    >>> import matplotlib; matplotlib.use("Agg")
    >>> import sim
    >>> vm, ct = sim.run("storm", profile="kvm-typical", n=8), sim.run("storm", profile="crun", n=8)
    >>> fig = vm.plot_cdf(others=[ct])
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ['kvm-typical (vm, n=8)', 'crun (container, n=8)']
"""

from __future__ import annotations

import numpy as np

from sim import container, vm

MIB = 1024 * 1024
FALLBACK = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f"]


def _axes(ax, size=(8, 4.5)):
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=size)
    return ax.figure, ax


def _colour(name: str, i: int) -> str:
    return vm.COLOURS.get(name) or container.COLOURS.get(name) or FALLBACK[i % len(FALLBACK)]


def _label(r) -> str:
    return f"{r.profile} ({r.kind}, n={r.n})"


def timeline(r, ax=None, limit: int = 200):
    """Gantt chart: one row per instance (the first ``limit``), one colour per stage."""
    fig, ax = _axes(ax, (9, max(2.5, min(limit, r.n) * 0.18 + 1.5)))
    rows = r.stage_rows[r.stage_rows[:, 0] < limit]
    for j, name in enumerate(r.stage_names):
        sel = rows[rows[:, 1] == j]
        if len(sel):
            ax.barh(
                sel[:, 0],
                sel[:, 3] - sel[:, 2],
                left=sel[:, 2],
                height=0.8,
                color=_colour(name, j),
                label=name,
                linewidth=0,
            )
    waiting = [
        (i, r.arrival[i], r.admitted[i]) for i in range(min(r.n, limit)) if r.admitted[i] > r.arrival[i]
    ]
    if waiting:
        w = np.array(waiting)
        ax.barh(
            w[:, 0], w[:, 2] - w[:, 1], left=w[:, 1], height=0.8, color="#dddddd", label="waiting for memory"
        )
    ax.invert_yaxis()
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("instance")
    ax.set_title(f"{r.scenario}: {_label(r)}")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    fig.tight_layout()
    return fig


def cdf(results, ax=None):
    """CDF of ready times for one or more results (log time axis when they span decades)."""
    fig, ax = _axes(ax)
    spans = []
    for r in results:
        t = np.sort(r.ready_times[~np.isnan(r.ready_times)])
        if not len(t):
            continue
        spans += [t[0], t[-1]]
        ax.step(t, np.arange(1, len(t) + 1) / len(t), where="post", label=_label(r))
    if spans and min(spans) > 0 and max(spans) / min(spans) > 30:
        ax.set_xscale("log")
    ax.set_xlabel("time to ready (s)")
    ax.set_ylabel("fraction of instances ready")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize="small")
    return fig


def memory(results, ax=None):
    """Memory per instance, stacked by component; shared pages and daemons divided among instances."""
    fig, ax = _axes(ax)
    components: list[str] = []
    for r in results:
        components += [c for c in r.memory["components"] if c not in components]
    labels = [_label(r) for r in results]
    bottom = np.zeros(len(results))
    for i, c in enumerate(components + ["shared page cache", "host daemons"]):
        vals = []
        for r in results:
            m = r.memory
            count = max(int(np.sum(~np.isnan(r.admitted))), 1)
            vals.append(
                {"shared page cache": m["shared"] / count, "host daemons": m["host_overhead"] / count}.get(
                    c, m["components"].get(c, 0.0)
                )
                / MIB
            )
        vals = np.array(vals)
        if vals.any():
            ax.bar(labels, vals, bottom=bottom, label=c, color=FALLBACK[i % len(FALLBACK)])
            bottom += vals
    ax.set_ylabel("MiB per instance")
    if bottom.max() > 0 and bottom.max() / max(bottom.min(), 1e-9) > 30:
        ax.set_yscale("log")
    ax.legend(fontsize="small")
    ax.set_title("memory per instance")
    return fig


def density(r, ax=None):
    """Host memory used and memory per instance as instances are added, up to what fits."""
    fig, ax = _axes(ax)
    e = r.extra
    ax.plot(e["count"], e["host_used_mib"], label="host memory used (MiB)")
    ax.axhline(e["host_memory_mib"], color="k", linestyle="--", linewidth=1, label="host memory")
    ax.set_xlabel("instances")
    ax.set_ylabel("MiB")
    ax2 = ax.twinx()
    ax2.plot(e["count"], e["per_instance_mib"], color="#e15759", label="MiB per instance")
    ax2.set_ylabel("MiB per instance")
    ax.set_title(f"density: {_label(r)} — {e['fit']} fit")
    lines = ax.get_lines() + ax2.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], fontsize="small", loc="center right")
    return fig


def scaleout(r, ax=None):
    """Queue length, ready and booting instances over time during a request spike."""
    fig, ax = _axes(ax)
    e = r.extra
    ax.plot(e["t"], e["queue"], label="queued requests", color="#e15759")
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("queued requests")
    ax2 = ax.twinx()
    ax2.step(e["t"], e["ready_instances"], where="post", label="ready instances", color="#4e79a7")
    ax2.step(e["t"], e["booting"], where="post", label="booting instances", color="#f28e2b")
    ax2.set_ylabel("instances")
    p = r.params
    ax.axvspan(p["spike_at"], p["spike_at"] + p["spike_for"], color="#eeeeee", zorder=0)
    lines = ax.get_lines() + ax2.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], fontsize="small", loc="upper right")
    ax.set_title(f"scale-out: {_label(r)} — dropped {e['dropped']}, absorbed in {e['absorb_s']} s")
    return fig


def sweep_curve(points: list[dict], ax=None):
    """Time until all are ready against the sweep's first numeric parameter, one line per other point."""
    fig, ax = _axes(ax)
    if not points:
        return fig
    keys = list(points[0]["point"])
    numeric = [k for k in keys if all(isinstance(p["point"][k], (int, float)) for p in points)]
    x = numeric[0] if numeric else None
    lines: dict[str, list[tuple]] = {}
    for p in points:
        label = ", ".join(f"{k}={v}" for k, v in p["point"].items() if k != x) or "all"
        if p["makespan"] is not None:
            lines.setdefault(label, []).append(
                (p["point"].get(x, 0) if x else len(lines.get(label, [])), p["makespan"])
            )
    for label, xy in lines.items():
        xy.sort()
        ax.plot([a for a, _ in xy], [b for _, b in xy], marker="o", label=label)
    ax.set_xlabel(x or "point")
    ax.set_ylabel("time until all are ready (s, mean of runs)")
    if all(b > 0 for xy in lines.values() for _, b in xy):
        ax.set_yscale("log")
    ax.legend(fontsize="small")
    ax.set_title("sweep")
    return fig


def html_img(fig) -> str:
    """A figure as an inline ``<img>`` (base64 PNG) for notebook ``_repr_html_``; the figure is closed."""
    import base64
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return f'<img src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}"/>'


def html_table(columns: list[str], rows: list[list], caption: str = "") -> str:
    """A plain HTML table (cells escaped) for notebook displays."""
    from html import escape

    head = "".join(f"<th>{escape(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
