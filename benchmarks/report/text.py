"""Formatting shared by the HTML and Markdown reports."""

from __future__ import annotations

from benchmarks.runner import ORDER


def fmt(x) -> str:
    """A number with about three significant digits (none for None)."""
    if x is None:
        return "–"
    if isinstance(x, float):
        if x == 0:
            return "0"
        if abs(x) >= 100:
            return f"{x:,.0f}"
        return f"{x:.3g}"
    return str(x)


def labels_text(labels: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))


def suite_order(res) -> list[str]:
    rank = {n: i for i, n in enumerate(ORDER)}
    return sorted(res.suites, key=lambda n: (rank.get(n, len(ORDER)), n))


def host_rows(res) -> list[tuple[str, str]]:
    h = res.host
    accel = h.get("accelerator", {})
    rows = [("OS", h.get("os")), ("kernel", h.get("kernel")), ("CPU", f"{h.get('cpu')} × {h.get('cpus')}"),
            ("memory", f"{h.get('mem_total_mib')} MiB"),
            ("cgroups", f"{h.get('cgroups', {}).get('layout')}: {h.get('cgroups', {}).get('evidence')}"),
            ("KVM", h.get("kvm")), ("hardware virtualisation", h.get("kvm_hw")),
            ("VM accelerator", f"{accel.get('accel')}: {accel.get('reason')}"),
            ("load average (1, 5, 15 min)", f"{h.get('loadavg')} before, {h.get('loadavg_after')} after"),
            ("python", h.get("python"))]
    rows += [(f"tool: {k}", v) for k, v in sorted(h.get("tools", {}).items())]
    return [(k, "" if v is None else str(v)) for k, v in rows]
