"""Sweeps run through local processes or a Dask cluster and give the same answers as serial runs."""

from sim.sweep import grid, run_spec, sweep

SPECS = grid("storm", profile=["crun", "microvm"], n=[1, 3], seed=[0, 1])


def _strip(rows):
    return [{k: v for k, v in r.items() if k not in ("wall_s", "events_per_s", "worker_pid")} for r in rows]


def test_grid_is_the_cartesian_product():
    assert len(SPECS) == 8
    assert SPECS[-1] == {"scenario": "storm", "profile": "microvm", "n": 3, "seed": 1}


def test_local_processes_match_serial_results_in_order(no_leaks):
    serial = sweep(SPECS, workers=1)
    parallel = sweep(SPECS, workers=2)
    assert _strip(parallel) == _strip(serial)


def test_summarise_averages_seeds_per_point():
    from sim.sweep import summarise

    rows = sweep(SPECS, workers=1)
    points = summarise(SPECS, rows)
    assert [p["point"] for p in points] == [
        {"profile": pr, "n": n} for pr in ("crun", "microvm") for n in (1, 3)
    ]
    assert all(p["runs"] == 2 for p in points)
    first = [r["makespan"] for r in rows[:2]]
    assert points[0]["makespan"] == sum(first) / 2


def test_progress_is_reported():
    seen = []
    sweep(SPECS[:3], workers=1, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_dask_cluster_on_loopback():
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        rows = sweep(SPECS, address=cluster.scheduler_address)
    assert _strip(rows) == _strip([run_spec(s) for s in SPECS])


def test_a_failing_spec_raises_in_the_caller_and_leaves_no_workers(no_leaks):
    import pytest

    from sim import SimError

    with pytest.raises(SimError, match="n must be"):
        sweep([{"scenario": "storm", "profile": "crun", "n": 0}] * 3, workers=2)


def test_specs_need_a_scenario():
    import pytest

    from sim import SimError

    with pytest.raises(SimError, match="scenario"):
        sweep([{"profile": "crun"}])
