"""The acceptance checks: closed-form answers the simulation must reproduce exactly."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from sim.profiles import available, load

from .helpers import one_stage


@pytest.mark.parametrize("name,kind", [(n, k) for n in sorted(available()) for k in load(n).kinds])
@pytest.mark.parametrize("cache", ["warm", "cold"])
def test_one_instance_takes_the_sum_of_its_stages(name, kind, cache):
    r = sim.run("start", profile=name, kind=kind, jitter=False, cache=cache)
    p = load(name)
    expected = p.instance(kind).solo_seconds(p.host, warm=cache == "warm")
    assert math.isclose(r.ready_times[0], expected, rel_tol=1e-9)
    durations = [rec["duration"] for rec in r.records]
    assert math.isclose(sum(durations), r.ready_times[0], rel_tol=1e-9)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 40), c=st.integers(1, 8), t_ms=st.floats(1, 1000))
def test_fifo_cores_finish_equal_starts_in_waves_of_c(n, c, t_ms):
    """cpu_model="fifo": a stage holds a whole core, so N starts of t finish at ceil(N/c)·t."""
    r = sim.run("storm", profile=one_stage(cores=c, cpu_model="fifo", cpu_ms=t_ms, memory_mib=1e6), n=n)
    t = t_ms / 1e3
    assert math.isclose(np.nanmax(r.ready_times), math.ceil(n / c) * t, rel_tol=1e-9)
    expected = [math.ceil((i + 1) / c) * t for i in range(n)]
    assert np.allclose(np.sort(r.ready_times), expected, rtol=1e-9)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 40), c=st.integers(1, 8), t_ms=st.floats(1, 1000))
def test_processor_sharing_finishes_equal_starts_together_at_n_over_c(n, c, t_ms):
    """cpu_model="ps": runnable work shares the cores, so all N finish at max(1, N/c)·t."""
    r = sim.run("storm", profile=one_stage(cores=c, cpu_model="ps", cpu_ms=t_ms, memory_mib=1e6), n=n)
    assert np.allclose(r.ready_times, max(1.0, n / c) * t_ms / 1e3, rtol=1e-9)


@given(n=st.integers(1, 30))
def test_disk_bandwidth_is_shared(n):
    r = sim.run("storm", profile=one_stage(cpu_ms=0, io_mib=10, disk_mib_s=100, memory_mib=1e6), n=n)
    assert np.allclose(r.ready_times, n * 10 / 100, rtol=1e-9)


def test_latency_does_not_contend():
    r = sim.run("storm", profile=one_stage(cores=1, cpu_ms=0, delay_ms=50, memory_mib=1e6), n=100)
    assert np.allclose(r.ready_times, 0.05)


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(1, 64), min_size=1, max_size=40), total=st.integers(1, 512))
def test_admission_refuses_exactly_what_does_not_fit(sizes, total):
    """Host level: instances arrive in order; refuse = the ones that would overflow what is left."""
    import simpy

    from sim.host import Host
    from sim.profiles import MIB, HostSpec

    host = Host(simpy.Environment(), HostSpec(memory=total * MIB, admission="refuse"))
    got = [host.admit(s * MIB) is None for s in sizes]
    used, expected = 0, []
    for s in sizes:
        refused = used + s > total
        expected.append(refused)
        used += 0 if refused else s
    assert got == expected
    assert host.memory_used == used * MIB


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 60), mem=st.integers(1, 100), total=st.integers(1, 1000))
def test_storm_admission_refuses_exactly_the_overflow(n, mem, total):
    r = sim.run("storm", profile=one_stage(mem_mib=mem, memory_mib=total, admission="refuse"), n=n, seed=1)
    fit = min(n, total // mem)
    assert r.refused.tolist() == list(range(fit, n))
    assert np.isnan(r.ready_times[fit:]).all() and not np.isnan(r.ready_times[:fit]).any()


def test_waiting_admission_runs_everyone_in_order_without_overcommitting():
    r = sim.run("storm", profile=one_stage(mem_mib=100, memory_mib=250, cores=8), n=7, lifetime=1.0)
    assert len(r.refused) == 0 and not np.isnan(r.ready_times).any()
    assert r.hosts[0]["memory_peak"] <= 250 * 1024 * 1024
    # two fit at a time: waves every 1.1 s (0.1 s of work, then 1 s of lifetime)
    assert np.allclose(np.sort(r.ready), [0.1, 0.1, 1.2, 1.2, 2.3, 2.3, 3.4])
    assert (np.diff(r.admitted) >= 0).all()  # FIFO


def test_an_instance_bigger_than_the_host_is_refused_even_when_waiting():
    r = sim.run("storm", profile=one_stage(mem_mib=300, memory_mib=250), n=2)
    assert r.refused.tolist() == [0, 1]


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    profile=st.sampled_from(["kvm-typical", "crun", "docker", "microvm"]),
    n=st.integers(1, 30),
)
def test_same_seed_same_results(seed, profile, n):
    a = sim.run("storm", profile=profile, n=n, seed=seed)
    b = sim.run("storm", profile=profile, n=n, seed=seed)
    assert np.array_equal(a.ready, b.ready, equal_nan=True) and np.array_equal(a.stage_rows, b.stage_rows)


@pytest.mark.parametrize(
    "scenario,params",
    [
        ("scaleout", {"duration": 40, "spike_at": 5, "spike_for": 20}),
        ("cluster", {"policy": "random", "n": 20}),
        ("density", {"memory_mib": 4096}),
    ],
)
def test_same_seed_same_results_in_every_scenario(scenario, params):
    a = sim.run(scenario, profile="kvm-typical", seed=7, **params).to_json()
    b = sim.run(scenario, profile="kvm-typical", seed=7, **params).to_json()
    for d in (a, b):
        d.pop("wall_s"), d.pop("events_per_s")
    assert a == b


def test_different_seeds_differ():
    a = sim.run("storm", profile="kvm-typical", n=4, seed=1)
    b = sim.run("storm", profile="kvm-typical", n=4, seed=2)
    assert not np.array_equal(a.ready, b.ready)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 30), seed=st.integers(0, 1000))
def test_cpu_and_disk_work_are_conserved(n, seed):
    """Whatever the contention, the host serves exactly the CPU and I/O the stages asked for."""
    r = sim.run("storm", profile="full-os-vm", n=n, seed=seed, memory_mib=1e6, jitter=False)
    p = load("full-os-vm")
    cpu = sum(s.cpu for s in p.instance().stages)
    io = sum(s.io for s in p.instance().stages) / 2**20
    assert math.isclose(r.hosts[0]["cpu_core_s"], n * cpu, rel_tol=1e-6)
    assert math.isclose(r.hosts[0]["disk_mib_read"], n * io, rel_tol=1e-6)
