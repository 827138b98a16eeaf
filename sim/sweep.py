"""Sweeps: many scenarios at once, in parallel, through an executor.

Local processes by default (``concurrent.futures.ProcessPoolExecutor``, one worker per core); a
Dask distributed cluster when you pass its scheduler's address. Each task returns the scenario's
``summary()`` plus the worker's pid, in the order the specs were given.

    >>> from sim.sweep import grid, sweep
    >>> specs = grid("storm", profile=["kvm-typical", "crun"], n=[1, 4], seed=[0])
    >>> len(specs), specs[0]
    (4, {'scenario': 'storm', 'profile': 'kvm-typical', 'n': 1, 'seed': 0})
    >>> rows = sweep(specs, workers=1)           # workers=1: in this process, no pool
    >>> [(r["profile"], r["n"]) for r in rows]
    [('kvm-typical', 1), ('kvm-typical', 4), ('crun', 1), ('crun', 4)]
    >>> [p["point"] for p in summarise(specs, rows)][:2]
    [{'profile': 'kvm-typical', 'n': 1}, {'profile': 'kvm-typical', 'n': 4}]

On a Dask cluster: ``sweep(specs, address="tcp://scheduler:8786")`` (needs ``distributed``; the
workers need ``vmvc`` installed). ``progress`` is called as ``progress(done, total)``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable

from sim.errors import SimError


def grid(scenario: str, **axes) -> list[dict]:
    """The cartesian product of the given parameter lists (scalars count as one value)."""
    keys = list(axes)
    values = [v if isinstance(v, (list, tuple)) else [v] for v in axes.values()]
    return [
        {"scenario": scenario, **dict(zip(keys, combo, strict=True))} for combo in itertools.product(*values)
    ]


def summarise(specs: list[dict], rows: list[dict]) -> list[dict]:
    """Average the runs of each point (every parameter that varies, except ``seed``).

    Returns ``[{"point": {"profile": ..., "n": ...}, "runs": k, "ready_median": s, "makespan": s}]``
    in first-seen order; ``ready_median`` and ``makespan`` are means over the point's runs.
    """
    keys = [k for k in specs[0] if k not in ("scenario", "seed") and len({repr(s.get(k)) for s in specs}) > 1]
    groups: dict[tuple, list[dict]] = {}
    for spec, row in zip(specs, rows, strict=True):
        groups.setdefault(tuple(spec.get(k) for k in keys), []).append(row)
    out = []
    for point, group in groups.items():
        med = [g["ready"]["median"] for g in group if g["ready"].get("count")]
        span = [g["makespan"] for g in group if g.get("makespan") is not None]
        out.append(
            {
                "point": dict(zip(keys, point, strict=True)),
                "runs": len(group),
                "ready_median": sum(med) / len(med) if med else None,
                "makespan": sum(span) / len(span) if span else None,
            }
        )
    return out


def run_spec(spec: dict) -> dict:
    """Run one spec (``{"scenario": ..., **params}``) and return its summary (a worker task)."""
    from sim.api import run

    spec = dict(spec)
    scenario = spec.pop("scenario")
    summary = run(scenario, **spec).summary()
    summary["worker_pid"] = os.getpid()
    return summary


def _check(specs: Iterable[dict]) -> list[dict]:
    specs = list(specs)
    for s in specs:
        if not isinstance(s, dict) or "scenario" not in s:
            raise SimError(f"a sweep spec needs a 'scenario' key: {s!r}")
    return specs


def sweep(
    specs: Iterable[dict],
    workers: int | None = None,
    address: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict]:
    """Run every spec; results in spec order. See the module doc for executors."""
    specs = _check(specs)
    total = len(specs)
    results: list[dict | None] = [None] * total
    done = 0

    def tick():
        if progress is not None:
            progress(done, total)

    if address:
        return _dask(specs, address, progress)
    workers = workers or os.cpu_count() or 1
    if workers == 1 or total <= 1:
        for i, s in enumerate(specs):
            results[i] = run_spec(s)
            done += 1
            tick()
        return results  # type: ignore[return-value]

    import multiprocessing
    import threading
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # fork is cheap and leaves nothing behind, but is unsafe once threads run (a notebook kernel,
    # a Dask client); then spawn, which also starts multiprocessing's resource tracker (a helper
    # that lives as long as this process).
    method = "fork" if os.name == "posix" and threading.active_count() == 1 else "spawn"
    ctx = multiprocessing.get_context(method)
    tracker = _tracker()
    tracker_was_running = tracker is None or getattr(tracker, "_pid", None) is not None
    pool = ProcessPoolExecutor(max_workers=min(workers, total), mp_context=ctx)
    try:
        futures = {pool.submit(run_spec, s): i for i, s in enumerate(specs)}
        for fut in as_completed(futures):
            results[futures[fut]] = fut.result()
            done += 1
            tick()
    finally:  # on an error or Ctrl-C: drop queued work, wait for the workers to exit
        pool.shutdown(wait=True, cancel_futures=True)
        if not tracker_was_running:  # we started it (spawn): stop it, leave no helper process behind
            getattr(tracker, "_stop", lambda: None)()
    return results  # type: ignore[return-value]


def _tracker():
    """multiprocessing's resource tracker (a helper process spawn-started pools start on first use)."""
    try:
        from multiprocessing import resource_tracker

        return resource_tracker._resource_tracker
    except (ImportError, AttributeError):
        return None


def _dask(specs: list[dict], address: str, progress) -> list[dict]:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise SimError("a Dask address needs the 'distributed' package (pip install distributed)") from None
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError) as e:
        raise SimError(f"cannot reach the Dask scheduler at {address}: {e}") from None
    with client:
        futures = client.map(run_spec, specs, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[dict | None] = [None] * len(specs)
        for done, fut in enumerate(as_completed(futures), 1):
            results[index[fut.key]] = fut.result()
            if progress is not None:
                progress(done, len(specs))
    return results  # type: ignore[return-value]
