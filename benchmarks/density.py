"""Density: start N sleeping containers, measure what each costs, remove them all.

What it answers:

* **time per container** to start (create + start, ``run -d``) and to remove (``rm -f``), as the
  N-th container starts next to N-1 running ones;
* **engine memory per container**: the growth of the PSS of the spawner and its janitor (one per
  state root, :mod:`runtime.containers.janitor`) divided by N. The spawner is the only thing vmvc
  keeps per running container (no shim process: docker adds a ~13 MB-RSS
  containerd-shim per container, podman a ~2 MB conmon; docs/anchors.md). Target ≤ 1 MiB;
* **the container's own memory**: PSS of its processes (busybox ``sleep``) and its cgroup's
  ``memory.usage`` (page cache and kernel memory charged to it) — the workload's cost, not the engine's;
* fds the spawner holds per container.

Run it: ``python -m benchmarks.density -n 500 --json density.json``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from benchmarks.startup import emit, private_root  # noqa: E402

TARGET_ENGINE_PSS_KIB = 1024


def _rollup(pid: int, fields: tuple[str, ...]) -> int:
    """The sum of ``fields`` (kB) in ``/proc/<pid>/smaps_rollup``; 0 for a process that is gone."""
    total = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.split(":", 1)[0] in fields:
                    total += int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return total


def pss_kib(pid: int) -> int:
    """Proportional set size of one process (kB)."""
    return _rollup(pid, ("Pss",))


def uss_kib(pid: int) -> int:
    """Unique set size (kB): pages only this process maps. Unlike PSS it does not shrink when some
    other process starts sharing the engine's pages, so a per-container delta cannot turn negative
    from the neighbours' comings and goings."""
    return _rollup(pid, ("Private_Clean", "Private_Dirty"))


def fd_count(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except FileNotFoundError:
        return 0


def measure(*args, **kw) -> dict:
    """See :func:`_measure`; runs on a private ``$VMVC_ROOT``."""
    with private_root("vmvc-bench-density-"):
        return _measure(*args, **kw)


def _measure(n: int = 500, image: str = "busybox", progress: bool = False) -> dict:
    from runtime.containers import Engine, Spec

    engine = Engine()
    ids: list[str] = []
    try:
        engine.run(Spec(image, ["true"], auto_remove=True))  # spawner up, image created, stem warm
        # Steady state before the baseline: the first run builds the image and the allocator keeps,
        # then returns, memory for it; without warm-up the per-container delta comes out negative.
        for _ in range(min(n, 50)):
            with engine.run_session(Spec(image, ["sleep", "3600"]), attach=False) as s:
                warm = s.reply["id"]
            engine.remove(warm, force=True)
        time.sleep(0.5)
        ping = engine.spawner.request({"op": "ping"})
        spawner, janitor = ping["pid"], ping.get("janitor", 0)
        engine_pids = [p for p in (spawner, janitor) if p]  # the janitor shares the spawner's pages
        pss_before, fds_before = sum(map(pss_kib, engine_pids)), fd_count(spawner)
        uss_before = sum(map(uss_kib, engine_pids))
        bar = _progress(n, "starting") if progress else None
        start_ms = []
        t_all = time.perf_counter()
        for _ in range(n):
            t = time.perf_counter()
            with engine.run_session(Spec(image, ["sleep", "3600"]), attach=False) as s:
                ids.append(s.reply["id"])
            start_ms.append((time.perf_counter() - t) * 1000)
            if bar:
                bar.advance()
        start_total = time.perf_counter() - t_all
        time.sleep(0.5)  # let the last stems settle
        pss_after, fds_after = sum(map(pss_kib, engine_pids)), fd_count(spawner)
        uss_after = sum(map(uss_kib, engine_pids))
        sample = ids[:: max(1, n // 20)]
        states = [engine.inspect(cid) for cid in sample]
        container_pss = [pss_kib(st["State"]["Pid"]) for st in states]
        cgroup_bytes = [engine.stats(cid)["memory_usage"] for cid in sample]
        running = len(engine.list())
        if bar:
            bar.stop()
        bar = _progress(n, "removing") if progress else None
        remove_ms = []
        t_all = time.perf_counter()
        for cid in ids:
            t = time.perf_counter()
            engine.remove(cid, force=True)
            remove_ms.append((time.perf_counter() - t) * 1000)
            if bar:
                bar.advance()
        remove_total = time.perf_counter() - t_all
        ids.clear()
        if bar:
            bar.stop()
        engine_pss = (pss_after - pss_before) / n
        engine_uss = (uss_after - uss_before) / n
        engine_cost = max(engine_pss, engine_uss)  # judge on the larger: PSS alone can look negative
        return {
            "n": n,
            "running_at_peak": running,
            "start_total_s": start_total,
            "start_ms_median": statistics.median(start_ms),
            "start_ms_p95": sorted(start_ms)[int(0.95 * (n - 1))],
            "start_ms_first_last_tenth": [
                statistics.median(start_ms[: max(1, n // 10)]),
                statistics.median(start_ms[-max(1, n // 10) :]),
            ],
            "remove_total_s": remove_total,
            "remove_ms_median": statistics.median(remove_ms),
            "spawner_pss_kib": [pss_before, pss_after],
            "engine_pss_kib_per_container": engine_pss,
            "spawner_uss_kib": [uss_before, uss_after],
            "engine_uss_kib_per_container": engine_uss,
            "spawner_fds_per_container": (fds_after - fds_before) / n,
            "container_pss_kib_median": statistics.median(container_pss),
            "container_cgroup_kib_median": statistics.median(cgroup_bytes) / 1024,
            "target_engine_pss_kib": TARGET_ENGINE_PSS_KIB,
            "met": engine_cost <= TARGET_ENGINE_PSS_KIB,
        }
    finally:
        remove_all(engine, ids)


def remove_all(engine, ids: list[str]) -> None:
    """Remove every container in ``ids`` (best effort: one that is already gone is fine), then stop the
    engine's spawner: what a harness must leave behind is nothing."""
    for cid in ids:
        try:
            engine.remove(cid, force=True)
        except Exception:
            pass
    engine.shutdown()


def cpu_quota(*args, **kw) -> dict:
    """See :func:`_cpu_quota`; runs on a private ``$VMVC_ROOT``."""
    with private_root("vmvc-bench-cpu-"):
        return _cpu_quota(*args, **kw)


def _cpu_quota(iterations: int = 2_000_000, cpus: float = 0.5, image: str = "busybox") -> dict:
    """Throughput of a CPU-bound shell loop (``iterations`` additions in busybox sh, no forks) in a
    container with and without ``--cpus``, timed from outside; run one after the other so each has the
    host to itself. Expect a ratio near ``cpus`` on an idle host (less contrast on a busy one)."""
    import time

    from runtime.containers import Engine, Spec

    loop = f"i=0; while [ $i -lt {iterations} ]; do i=$((i+1)); done"
    engine = Engine()
    try:
        rate = {}
        for label, limit in (("unlimited", None), (f"cpus={cpus}", cpus)):
            t = time.perf_counter()
            engine.run(Spec(image, ["sh", "-c", loop], cpus=limit, auto_remove=True))
            rate[label] = iterations / (time.perf_counter() - t)
        return {
            "iterations": iterations,
            "per_second": rate,
            "ratio": rate[f"cpus={cpus}"] / rate["unlimited"],
            "expected": cpus,
        }
    finally:
        engine.shutdown()


class _progress:
    """A rich progress bar (imported only when asked for)."""

    def __init__(self, total: int, what: str) -> None:
        from rich.progress import Progress

        self.p = Progress(transient=True)
        self.p.start()
        self.task = self.p.add_task(what, total=total)

    def advance(self) -> None:
        self.p.advance(self.task)

    def stop(self) -> None:
        self.p.stop()


def report(r: dict) -> str:
    extra = []
    if "cpu_quota" in r:
        q = r["cpu_quota"]
        rates = ", ".join(f"{k} {v:.0f}/s" for k, v in q["per_second"].items())
        extra.append(
            f"  --cpus {q['expected']}: {q['ratio']:.2f}x the loop throughput of an unlimited "
            f"container ({rates})"
        )
    return "\n".join(
        [
            f"{r['n']} sleeping containers ({r['running_at_peak']} running at the peak):",
            f"  start  {r['start_total_s']:.2f} s total, median {r['start_ms_median']:.2f} ms/container "
            "(first tenth {:.2f}, last tenth {:.2f})".format(*r["start_ms_first_last_tenth"]),
            f"  remove {r['remove_total_s']:.2f} s total, median {r['remove_ms_median']:.2f} ms/container",
            f"  engine memory {r['engine_pss_kib_per_container']:.1f} KiB PSS per container "
            f"({r['engine_uss_kib_per_container']:.1f} KiB USS) "
            "(spawner + janitor {} -> {} KiB; ".format(*r["spawner_pss_kib"])
            + f"target <= {r['target_engine_pss_kib']}: "
            f"{'met' if r['met'] else 'NOT met'}), {r['spawner_fds_per_container']:.1f} fds per container",
            f"  the container itself: {r['container_pss_kib_median']} KiB PSS (busybox sleep), "
            f"cgroup memory.usage {r['container_cgroup_kib_median']:.0f} KiB",
            *extra,
        ]
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.density", description=__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=500, help="containers to start (default 500)")
    p.add_argument("--cpu-iterations", type=int, default=2_000_000, help="loop length of the --cpus runs")
    p.add_argument("--json", help="write the result to this file")
    a = p.parse_args(argv)
    result = measure(a.n, progress=sys.stderr.isatty())
    result["cpu_quota"] = cpu_quota(a.cpu_iterations)
    return emit(result, report, a.json)


if __name__ == "__main__":
    sys.exit(main())
