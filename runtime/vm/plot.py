"""The boot timeline as a picture: one horizontal bar per VM, one coloured segment per phase.

Where the time goes is easier to see than to read: under TCG the kernel's own boot dominates;
firmware and QEMU start-up are slivers; the workload is a hairline at the end.
"""

from __future__ import annotations

from runtime.vm.timeline import Timeline

# (substring of a phase name, legend entry, colour); the first match wins.
GROUPS = (("qemu start-up", "QEMU start-up", "#9e9e9e"), ("firmware", "firmware", "#8d6e63"),
          ("loader", "loader", "#a1887f"), ("decompression", "kernel setup + decompression", "#ffb74d"),
          ("kernel boot", "kernel boot to /init", "#e57373"), ("/init", "/init", "#64b5f6"),
          ("initrd", "initrd (initramfs-tools)", "#90caf9"), ("vmvc unit", "vmvc marker + report", "#ffd54f"),
          ("boot jobs", "vmvc marker + report", "#ffd54f"),
          ("systemd-analyze", "vmvc marker + report", "#ffd54f"),
          ("systemd", "systemd to multi-user.target", "#aed581"),
          ("service", "services", "#81c784"), ("workload", "workload", "#ba68c8"),
          ("exit", "exit code + poweroff", "#4db6ac"))


def group(name: str) -> tuple[str, str]:
    """Legend entry and colour of a phase."""
    for key, legend, value in GROUPS:
        if key in name:
            return legend, value
    return "other", "#cfd8dc"


def figure(timelines: dict[str, Timeline], title: str = "VM boot timeline"):
    """A matplotlib Figure (the caller saves or shows it; tests use the Agg backend)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 1.2 + 0.8 * len(timelines)))
    seen = set()
    for row, tl in enumerate(timelines.values()):
        for phase in tl.phases:
            legend, value = group(phase.name)
            ax.barh(row, phase.seconds, left=phase.start, color=value, edgecolor="white", linewidth=0.3,
                    label=None if legend in seen else legend)
            seen.add(legend)
        accel = tl.info.get("accel", "?")
        ax.text(tl.wall, row, f"  {tl.wall:.2f} s ({accel})", va="center", fontsize=8)
    ax.set_yticks(range(len(timelines)), list(timelines))
    ax.invert_yaxis()
    ax.set_xlabel("seconds since QEMU was started")
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.25), frameon=False)
    fig.tight_layout()
    return fig


def save(timelines: dict[str, Timeline], path: str, title: str = "VM boot timeline") -> str:
    import matplotlib.pyplot as plt

    fig = figure(timelines, title)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
