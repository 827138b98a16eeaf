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
        cpu0 = time.process_time()
        r = sim.run("storm", profile=profile, n=n, seed=seed, memory_mib=10**9)
        runs.append((r.events / r.wall, r.events, r.wall, r.events / (time.process_time() - cpu0)))
    eps = statistics.median(x[0] for x in runs)
    per_cpu = statistics.median(x[3] for x in runs)
    return {
        "profile": profile,
        "n": n,
        "events": runs[0][1],
        "events_per_s": eps,
        # per CPU-second of the whole sim.run call (setup and results included): immune to other load
        "events_per_cpu_s": per_cpu,
        "loadavg": os.getloadavg()[0],
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


BUSY = "import sys\nx = 0\nfor i in range(int(sys.argv[1])):\n    x += i\n"


def _process_storm(n: int, loops: int) -> tuple[list[float], list[float]]:
    """Start ``n`` CPU-bound Python processes at once; (seconds to exit, CPU seconds) of each."""
    import subprocess

    t0 = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-S", "-c", BUSY, str(loops)]) for _ in range(n)]
    pending = {p.pid: p for p in procs}
    done, cpu = {}, {}
    while pending:
        pid, status, usage = os.wait4(-1, 0)
        if pid in pending:
            done[pid] = time.perf_counter() - t0
            cpu[pid] = usage.ru_utime + usage.ru_stime
            pending.pop(pid).returncode = os.waitstatus_to_exitcode(status)
    return [done[p.pid] for p in procs], [cpu[p.pid] for p in procs]


def cpu_model_check(ns=(1, 2, 4, 8), loops: int = 10_000_000, repeats: int = 3) -> dict:
    """The CPU-sharing model against reality: storms of real CPU-bound processes on this host.

    Single runs give a one-stage "start" (wall and CPU time); storms of N give ready times. The
    records go through :mod:`sim.calibrate` and :mod:`sim.validate` exactly as ``vmvc bench``'s
    records will, so the MAPE here is a real prediction-vs-measurement figure for the part of the
    model that says how CPU-bound starts stretch on ``c`` cores. Other load on the host shows up
    as error; ``loadavg`` is reported with it.
    """
    from sim.calibrate import profile_from_records
    from sim.validate import validate

    load_before = os.getloadavg()[0]
    records: list[dict] = [{"type": "host", "cores": os.cpu_count() or 1}]
    for _ in range(repeats):
        (wall,), (cpu,) = _process_storm(1, loops)
        records.append(
            {
                "type": "stage",
                "kind": "container",
                "stage": "process",
                "seconds": wall,
                "cpu_seconds": min(cpu, wall),
            }
        )
    for n in ns:
        for _ in range(repeats):
            ready, _cpu = _process_storm(n, loops)
            records.append({"type": "storm", "kind": "container", "n": n, "ready_s": ready})
    prof = profile_from_records(records, name="cpu-check")
    v = validate(prof, records)
    return {
        "ns": list(ns),
        "loops": loops,
        "cores": os.cpu_count(),
        "mape": v.mape,
        "rows": v.rows,
        "gamma": prof["measured"]["fit"]["container"]["gamma"],
        "effective_cores": prof["measured"]["effective_cores"],
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg()[0],
    }


def main(argv: list[str] | None = None) -> int:
    import argparse

    argparse.ArgumentParser(prog="python -m benchmarks.sim_perf",
                            description=(__doc__ or "").splitlines()[0]).parse_args(argv)
    out = {
        "host": {"cores": os.cpu_count(), "python": sys.version.split()[0]},
        "events": events_per_second(),
        "storm_10k": storm_seconds(),
        "storm_10k_fifo": storm_seconds(cpu_model="fifo"),
        "sweep": sweep_cores(),
        "cpu_model_check": cpu_model_check(),
    }
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
