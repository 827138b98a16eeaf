"""The tutorial's claim in one picture: seconds to a running Debian userland, on a log scale.

Bars, fastest first: a container start, a microVM with vmvc's tiny ``/init``, the full Debian VM to
``multi-user.target``, then "from nothing" for each side. A log scale, because they span four orders
of magnitude; each bar is labelled with its value and the accelerator the VMs used.
"""

from __future__ import annotations


def bars(nothing: dict, microvm_init: float | None = None) -> dict[str, float]:
    """Chart rows from a :func:`runtime.vm.debian.nothing.from_nothing` result (plus, optionally, the
    seconds a microVM took to the workload under ``/init``, e.g. from ``vmvc vm boot --json``)."""
    vm, ct = nothing["vm"], nothing["container"]
    rows = {"container start (warm)": ct["warm_start_seconds"]}
    if microvm_init is not None:
        rows["microVM, tiny /init"] = microvm_init
    rows["Debian VM to multi-user (cached image)"] = vm["from_cached_image"]
    rows["container from nothing (import + start)"] = ct["total"]
    if vm["build_seconds"]:
        rows["VM from nothing (build + boot)"] = vm["total"]
    return rows


def save(rows: dict[str, float], path: str, accel: str = "",
         title: str = "Seconds to a running Debian") -> str:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 0.9 + 0.5 * len(rows)))
    names = list(rows)
    colours = ["#4db6ac" if "container" in n else "#e57373" for n in names]
    ax.barh(names, [rows[n] for n in names], color=colours)
    ax.set_xscale("log")
    for i, n in enumerate(names):
        ax.text(rows[n], i, f"  {rows[n]:.3g} s", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("seconds (log scale)" + (f"; VMs under {accel.upper()}" if accel else ""))
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
