"""Simulation speed: events per second, a 10,000-instance storm, a 100-scenario sweep on all cores.

Plain functions returning data (medians over repeats, ratios against the targets of the sim
issue), so ``vmvc bench`` and notebooks can call them; ``python -m benchmarks.sim_perf`` prints
JSON. Targets: >= 150k simulated events/s; a 10,000-instance storm in <= 3 s; a 100-scenario
sweep that keeps every core busy.

"Events" are SimPy events scheduled during the run (timeouts, resource grants, process steps),
read from SimPy's own event counter.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import time

EVENTS_TARGET = 150_000
STORM_TARGET_S = 3.0


def events_per_second(n: int = 10_000, profile: str = "kvm-typical", repeats: int = 3) -> dict:
    """Median simulated events per second of one big storm (processor-sharing cores)."""
    import sim

    runs = []
    for seed in range(repeats):
        r = sim.run("storm", profile=profile, n=n, seed=seed, memory_mib=10**9)
        runs.append((r.events / r.wall, r.events, r.wall))
    eps = statistics.median(x[0] for x in runs)
    return {
        "profile": profile,
        "n": n,
        "events": runs[0][1],
        "events_per_s": eps,
        "target": EVENTS_TARGET,
        "ratio_to_target": eps / EVENTS_TARGET,
    }


def storm_seconds(
    n: int = 10_000, profile: str = "kvm-typical", cpu_model: str = "ps", repeats: int = 3
) -> dict:
    """Median wall time of ``sim.run("storm", n=...)``, setup and result included."""
    import sim

    walls = []
    for seed in range(repeats):
        t0 = time.perf_counter()
        sim.run("storm", profile=profile, n=n, seed=seed, cpu_model=cpu_model, memory_mib=10**9).summary()
        walls.append(time.perf_counter() - t0)
    wall = statistics.median(walls)
    return {
        "profile": profile,
        "n": n,
        "cpu_model": cpu_model,
        "wall_s": wall,
        "target_s": STORM_TARGET_S,
        "ratio_to_target": wall / STORM_TARGET_S,
    }


def sweep_cores(scenarios: int = 100, n: int = 2000, workers: int | None = None) -> dict:
    """A sweep of ``scenarios`` storms on local processes: distinct worker processes used, and the
    children's CPU time over (wall x cores) — 1.0 means every core was busy for the whole sweep
    (on a shared machine other load lowers it)."""
    from sim.sweep import grid, sweep

    cores = os.cpu_count() or 1
    specs = grid(
        "storm", profile=["kvm-typical", "crun", "microvm", "docker"], n=n, seed=list(range(scenarios // 4))
    )[:scenarios]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    rows = sweep(specs, workers=workers)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    pids = {r["worker_pid"] for r in rows}
    return {
        "scenarios": len(specs),
        "cores": cores,
        "workers_used": len(pids),
        "wall_s": wall,
        "children_cpu_s": cpu,
        "core_utilisation": cpu / (wall * cores),
        "uses_all_cores": len(pids) >= cores,
    }


def main() -> int:
    out = {
        "host": {"cores": os.cpu_count(), "python": sys.version.split()[0]},
        "events": events_per_second(),
        "storm_10k": storm_seconds(),
        "storm_10k_fifo": storm_seconds(cpu_model="fifo"),
        "sweep": sweep_cores(),
    }
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
