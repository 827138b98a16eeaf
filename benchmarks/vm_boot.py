"""VM boot benchmark: the launcher against a bare QEMU command line, per machine type, plus pyvmm.

What it answers, each from runs done side by side in the same invocation:

* **launcher overhead** -- ``qemu.run`` (console capture, timeline, memory sampling) against the
  very same ``qemu-system-x86_64`` command line run bare (output to /dev/null), same kernel and
  initrd, runs interleaved so host noise hits both. Target: ≤ 10 %. On a shared 2-CPU host single
  boots vary by ±30 %, so the ratio of medians, the median of back-to-back pairs, the ratio of
  minimums, QEMU's CPU time both ways and the launcher's own CPU time (a direct measure of what it
  adds) are all reported.
* **boot time and memory per machine type** (microvm, pc, q35): median time to exit and to the
  workload marker, QEMU's peak RSS/PSS, and the accelerator that was used.
* **what a distro-like userspace adds**: time to the workload with and without the services stage.
* **what the bzImage's own setup and decompression cost**: the same kernel booted via PVH.
* **"a VM can be fast when the guest is tiny"**: pyvmm's whole real-mode VM (open /dev/kvm, create
  VM and vCPU, run 19 exits, tear down) against fork+exec of ``/bin/true`` on the same host.

Run it: ``python -m benchmarks.vm_boot --runs 5 --json out.json --plot out.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

from runtime.vm import accel as accel_mod
from runtime.vm import kernel as kernel_mod
from runtime.vm import qemu
from runtime.vm.boot import initrd_file

WORKLOAD = "echo hello from the workload; /bin/true"

# Published and recorded numbers, quoted next to ours (docs/anchors.md, docs/host-facts.md).
ANCHORS = {
    "host_facts_tcg_to_marker_s": {"microvm": 3.2, "pc": 3.4, "q35": 3.2},
    "firecracker_to_init_s": 0.125,
    "lightvm_tiny_boot_ms": 2.3,
    "lightvm_fork_exec_ms": 1.0,
    "host_facts_pyvmm_tiny_ms": 1.2,
}


def host() -> dict:
    with open("/proc/cpuinfo") as f:
        model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")
    return {"kernel": platform.release(), "cpus": os.cpu_count(), "cpu": model,
            "python": platform.python_version()}


def _cpu(who: int) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def bare(cmd: list[str], timeout: float = 120.0) -> tuple[float, float]:
    """The same QEMU command as a user would run it, output discarded: (seconds to exit, QEMU CPU s)."""
    cpu = _cpu(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          timeout=timeout)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"bare qemu exited with {proc.returncode}")
    return seconds, _cpu(resource.RUSAGE_CHILDREN) - cpu


def launched(spec: qemu.Spec) -> tuple[float, float, float, qemu.Result]:
    """The launcher: (seconds to exit, QEMU CPU s, the launcher's own CPU s, result)."""
    children, me = _cpu(resource.RUSAGE_CHILDREN), _cpu(resource.RUSAGE_SELF)
    start = time.perf_counter()
    result = qemu.run(spec)
    seconds = time.perf_counter() - start
    return seconds, _cpu(resource.RUSAGE_CHILDREN) - children, _cpu(resource.RUSAGE_SELF) - me, result


def launcher_vs_bare(machine: str = "microvm", runs: int = 3, kernel: str | None = None,
                     accel: str = "auto") -> dict:
    """Median wall time of bare QEMU and of the launcher, interleaved, and the launcher's overhead."""
    k = kernel_mod.resolve(kernel)
    decision = accel_mod.decide(accel)
    bare_s, launcher_s, timelines = [], [], []
    bare_cpu, launched_cpu, harness_cpu = [], [], []
    with initrd_file(WORKLOAD) as (initrd, _):
        spec = qemu.Spec(k.path, initrd, machine, decision.accel)
        cmd = qemu.command(spec)
        for i in range(runs):
            order = ("bare", "launcher") if i % 2 == 0 else ("launcher", "bare")
            for which in order:
                if which == "bare":
                    seconds, cpu = bare(cmd)
                    bare_s.append(seconds)
                    bare_cpu.append(cpu)
                else:
                    seconds, cpu, own, result = launched(spec)
                    launcher_s.append(seconds)
                    launched_cpu.append(cpu)
                    harness_cpu.append(own)
                    timelines.append(result.timeline)
    b, la = statistics.median(bare_s), statistics.median(launcher_s)
    workload = [t.event("mark:workload-done").t for t in timelines if t.event("mark:workload-done")]
    return {"machine": machine, "accel": decision.accel, "accel_reason": decision.reason, "runs": runs,
            "kernel": k.version, "command": cmd, "bare_s": bare_s, "launcher_s": launcher_s,
            "bare_median_s": b, "launcher_median_s": la, "overhead": la / b - 1,
            "overhead_of_minimums": min(launcher_s) / min(bare_s) - 1,
            "overhead_paired_median": statistics.median(
                la_i / b_i - 1 for la_i, b_i in zip(launcher_s, bare_s, strict=True)),
            "qemu_cpu_bare_median_s": statistics.median(bare_cpu),
            "qemu_cpu_launched_median_s": statistics.median(launched_cpu),
            "launcher_own_cpu_median_s": statistics.median(harness_cpu),
            "to_workload_median_s": statistics.median(workload) if workload else None,
            "peak_rss_mib": statistics.median(t.peak_rss for t in timelines) / 2**20,
            "peak_pss_mib": statistics.median(t.peak_pss for t in timelines) / 2**20,
            "phases_median_s": _median_phases(timelines),
            "timeline": timelines[len(timelines) // 2].to_dict()}


def _median_phases(timelines) -> dict:
    names: dict[str, list[float]] = {}
    for t in timelines:
        for p in t.phases:
            names.setdefault(p.name, []).append(p.seconds)
    return {n: statistics.median(v) for n, v in names.items()}


def pyvmm_tiny(runs: int = 50) -> dict:
    """The whole tiny VM (hello, real mode) against fork+exec of /bin/true, interleaved."""
    from runtime.vm.pyvmm import guests

    vm_s, fork_s, exits = [], [], None
    for _ in range(runs):
        out = guests.run("hello", "real")
        vm_s.append(out.seconds)
        exits = dict(out.stats.counts)
        start = time.perf_counter()
        subprocess.run(["/bin/true"])
        fork_s.append(time.perf_counter() - start)
    vm, fork = statistics.median(vm_s), statistics.median(fork_s)
    return {"runs": runs, "exits": exits, "vm_median_ms": vm * 1e3, "fork_exec_median_ms": fork * 1e3,
            "vm_over_fork_exec": vm / fork}


def services_cost(machine: str = "microvm", runs: int = 3, kernel: str | None = None,
                  accel: str = "auto") -> dict:
    """Time to the workload with no services and with the full distro-like stage, interleaved."""
    from runtime.vm.initramfs import SERVICES

    k = kernel_mod.resolve(kernel)
    decision = accel_mod.decide(accel)
    to_workload: dict[int, list[float]] = {0: [], len(SERVICES): []}
    userspace: dict[int, list[float]] = {0: [], len(SERVICES): []}   # mounts done → workload start
    with initrd_file(WORKLOAD) as (plain, _), initrd_file(WORKLOAD, len(SERVICES)) as (distro, _):
        for _ in range(runs):
            for n, initrd in ((0, plain), (len(SERVICES), distro)):
                t = qemu.run(qemu.Spec(k.path, initrd, machine, decision.accel)).timeline
                to_workload[n].append(t.event("mark:workload-start").t)
                userspace[n].append(t.event("mark:workload-start").t - t.event("mark:mounts").t)
    bare_m, distro_m = (statistics.median(v) for v in to_workload.values())
    stage_bare, stage_distro = (statistics.median(v) for v in userspace.values())
    return {"machine": machine, "accel": decision.accel, "services": [name for name, _ in SERVICES],
            "to_workload_s": {str(n): v for n, v in to_workload.items()},
            "no_services_median_s": bare_m, "services_median_s": distro_m,
            "services_cost_s": distro_m - bare_m,
            # the stage itself, from its own markers: far less noisy than a difference of whole boots
            "services_stage_median_s": stage_distro - stage_bare}


def pvh_vs_bzimage(machine: str = "microvm", runs: int = 3, kernel: str | None = None,
                   accel: str = "auto") -> dict:
    """The same kernel booted as a bzImage (setup code + self-decompression) and via PVH, interleaved."""
    from runtime.vm import vmlinux

    k = kernel_mod.resolve(kernel)
    elf = vmlinux.for_kernel(k)
    decision = accel_mod.decide(accel)
    out: dict[str, dict[str, list[float]]] = {name: {"entry": [], "wall": []} for name in ("bzimage", "pvh")}
    with initrd_file(WORKLOAD) as (initrd, _):
        for _ in range(runs):
            for name, path in (("bzimage", k.path), ("pvh", elf.path)):
                t = qemu.run(qemu.Spec(path, initrd, machine, decision.accel)).timeline
                out[name]["entry"].append(t.event("kernel-entry").t)
                out[name]["wall"].append(t.wall)
    med = {n: {f"{m}_median_s": statistics.median(v) for m, v in d.items()} for n, d in out.items()}
    return {"machine": machine, "accel": decision.accel, "runs": out, **med,
            "entry_saved_s": med["bzimage"]["entry_median_s"] - med["pvh"]["entry_median_s"]}


def run_all(runs: int = 3, machines=qemu.MACHINES, kernel: str | None = None, accel: str = "auto",
            tiny_runs: int = 50, services: bool = True) -> dict:
    """Everything above; ``services=False`` skips the two extra comparisons (services, PVH)."""
    per_machine = [launcher_vs_bare(m, runs, kernel, accel) for m in machines]
    return {"host": host(), "anchors": ANCHORS, "machines": per_machine, "pyvmm": pyvmm_tiny(tiny_runs),
            "services": services_cost(machines[0], runs, kernel, accel) if services else None,
            "pvh": pvh_vs_bzimage(machines[0], runs, kernel, accel) if services else None,
            "max_overhead": max(r["overhead"] for r in per_machine)}


def plot(results: dict, path: str) -> str:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    rows = results["machines"]
    names = [r["machine"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    x = range(len(rows))
    left.bar([i - 0.2 for i in x], [r["bare_median_s"] for r in rows], 0.4, label="bare qemu command line")
    left.bar([i + 0.2 for i in x], [r["launcher_median_s"] for r in rows], 0.4, label="vmvc launcher")
    for i, r in enumerate(rows):
        left.text(i + 0.2, r["launcher_median_s"], f"{r['overhead']:+.1%}", ha="center", va="bottom",
                  fontsize=8)
    left.set_xticks(list(x), [f"{n}\n({r['accel']})" for n, r in zip(names, rows, strict=True)])
    left.set_ylabel("seconds, QEMU start to exit (median)")
    left.set_title("Boot to poweroff: launcher vs bare QEMU")
    left.legend(fontsize=8)
    right.bar(list(x), [r["peak_rss_mib"] for r in rows], 0.4, label="peak RSS")
    right.bar([i + 0.4 for i in x], [r["peak_pss_mib"] for r in rows], 0.4, label="peak PSS")
    right.set_xticks([i + 0.2 for i in x], names)
    right.set_ylabel("MiB (guest RAM 256 MiB)")
    right.set_title("QEMU memory per VM")
    right.legend(fontsize=8)
    tiny = results["pyvmm"]
    fig.text(0.5, -0.02, f"a tiny VM can be fast: the whole pyvmm VM (19 exits) "
             f"{tiny['vm_median_ms']:.2f} ms vs fork+exec /bin/true {tiny['fork_exec_median_ms']:.2f} ms",
             ha="center", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def summary(results: dict) -> str:
    h = results["host"]
    lines = [f"host: {h['cpu']}, {h['cpus']} CPUs, Linux {h['kernel']}"]
    for r in results["machines"]:
        anchor = ANCHORS["host_facts_tcg_to_marker_s"].get(r["machine"])
        lines.append(f"{r['machine']:8} {r['accel']}: bare {r['bare_median_s']:.3f} s, launcher "
                     f"{r['launcher_median_s']:.3f} s ({r['overhead']:+.1%}; paired "
                     f"{r['overhead_paired_median']:+.1%}; of minimums "
                     f"{r['overhead_of_minimums']:+.1%}; launcher's own CPU "
                     f"{r['launcher_own_cpu_median_s'] * 1e3:.0f} ms), workload done at "
                     f"{r['to_workload_median_s']:.3f} s (host-facts anchor {anchor} s), "
                     f"peak RSS {r['peak_rss_mib']:.0f} MiB, PSS {r['peak_pss_mib']:.0f} MiB")
    sv = results.get("services")
    if sv:
        lines.append(f"{sv['machine']} to workload: {sv['no_services_median_s']:.3f} s bare init, "
                     f"{sv['services_median_s']:.3f} s with {len(sv['services'])} distro-like services "
                     f"(+{sv['services_cost_s'] * 1e3:.0f} ms between medians; the stage itself, from its "
                     f"markers: {sv['services_stage_median_s'] * 1e3:.0f} ms)")
    pvh = results.get("pvh")
    if pvh:
        lines.append(f"{pvh['machine']} kernel entry: bzImage {pvh['bzimage']['entry_median_s']:.3f} s, "
                     f"PVH {pvh['pvh']['entry_median_s']:.3f} s (setup + decompression saved: "
                     f"{pvh['entry_saved_s'] * 1e3:.0f} ms); to exit "
                     f"{pvh['bzimage']['wall_median_s']:.3f} s vs {pvh['pvh']['wall_median_s']:.3f} s")
    t = results["pyvmm"]
    lines.append(f"pyvmm tiny VM {t['vm_median_ms']:.2f} ms ({t['exits']}), fork+exec /bin/true "
                 f"{t['fork_exec_median_ms']:.2f} ms: ratio {t['vm_over_fork_exec']:.2f} "
                 f"(LightVM: {ANCHORS['lightvm_tiny_boot_ms']} ms vs {ANCHORS['lightvm_fork_exec_ms']} ms)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.vm_boot", description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--machine", default="all")
    p.add_argument("--accel", default="auto", choices=["auto", "kvm", "tcg"])
    p.add_argument("--kernel", default=None)
    p.add_argument("--json", metavar="PATH")
    p.add_argument("--plot", metavar="PNG")
    args = p.parse_args(argv)
    machines = qemu.MACHINES if args.machine == "all" else args.machine.split(",")
    from runtime.errors import VmvcError

    try:
        if args.kernel is None:
            kernel_mod.ensure_available(lambda: print("no guest kernel cached: fetching the Debian cloud "
                                                      "kernel", file=sys.stderr))
        results = run_all(args.runs, machines, args.kernel, args.accel)
    except VmvcError as e:
        print(f"vm_boot: {e}", file=sys.stderr)
        return e.exit_code
    print(summary(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2, default=str)
    if args.plot:
        plot(results, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
