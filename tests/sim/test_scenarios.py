"""Scenarios tell the stories they are meant to tell."""

import numpy as np
import pytest

import sim
from sim import SimError


def test_a_storm_stretches_boots_and_containers_stay_far_ahead():
    one = sim.run("storm", profile="tcg-this-kind", n=1, seed=1)
    many = sim.run("storm", profile="tcg-this-kind", n=8, seed=1)
    assert np.nanmax(many.ready_times) > 3 * np.nanmax(one.ready_times)  # 8 CPU-bound boots on 2 cores
    ct = sim.run("storm", profile="crun", n=8, seed=1)
    assert np.nanmax(ct.ready_times) * 20 < np.nanmax(many.ready_times)


def test_arrivals_spaced_out_do_not_contend():
    r = sim.run("storm", profile="kvm-typical", n=4, interval=5.0, jitter=False)
    assert np.allclose(r.arrival, [0, 5, 10, 15])
    assert np.allclose(r.ready_times, r.ready_times[0])


@pytest.mark.parametrize("profile,memory_mib", [("microvm", 4096), ("kvm-typical", 20000), ("docker", 2000)])
def test_density_matches_the_analytic_fit(profile, memory_mib):
    r = sim.run("density", profile=profile, memory_mib=memory_mib, seed=3)
    s = r.summary()
    assert s["fit"] == s["analytic_fit"]
    assert s["refused"] == s["n"] - s["fit"] > 0
    per = r.extra["per_instance_mib"]
    assert (np.diff(per) <= 0).all()  # shared pages and daemons amortise


def test_cluster_spread_balances_and_binpack_packs():
    spread = sim.run("cluster", profile="kvm-typical", hosts=3, n=30, policy="spread", seed=1)
    assert [h["placed"] for h in spread.hosts] == [10, 10, 10]
    pack = sim.run("cluster", profile="kvm-typical", hosts=3, n=30, policy="binpack", seed=1)
    assert [h["placed"] for h in pack.hosts] == [29, 1, 0]
    assert spread.summary()["makespan"] < pack.summary()["makespan"]


def test_cluster_refuses_when_no_host_fits():
    r = sim.run("cluster", profile="full-os-vm", hosts=2, n=20, policy="first-fit", seed=1)
    assert r.summary()["refused"] == 20 - 2 * 6
    assert (r.host_of[r.refused] == -1).all()


def test_locality_prefers_hosts_with_the_image_cached():
    r = sim.run(
        "cluster", profile="docker", hosts=4, n=8, policy="locality", cache="cold", interval=1.0, seed=1
    )
    assert [h["placed"] for h in r.hosts] == [8, 0, 0, 0]
    assert r.stage_durations()["image_pull"][1:].max() == 0


def test_containers_absorb_a_spike_faster_and_drop_less_than_full_vms():
    kw = {"duration": 60, "spike_at": 10, "spike_for": 30, "seed": 2}
    vm = sim.run("scaleout", profile="full-os-vm", **kw).summary()
    ct = sim.run("scaleout", profile="crun", **kw).summary()
    assert vm["absorb_s"] is None or ct["absorb_s"] < vm["absorb_s"]  # None: VMs never caught up
    assert ct["dropped"] < vm["dropped"]
    assert ct["served"] + ct["dropped"] <= ct["arrived"]


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: sim.run("nope"), "unknown scenario"),
        (lambda: sim.run("storm", n=0), "n must be"),
        (lambda: sim.run("storm", n=2.5), "n must be"),
        (lambda: sim.run("storm", interval=-1), "interval"),
        (lambda: sim.run("storm", cores=0), "cores"),
        (lambda: sim.run("storm", warp=9), "unknown parameter"),
        (lambda: sim.run("storm", cache="tepid"), "cache"),
        (lambda: sim.run("cluster", policy="psychic"), "unknown policy"),
        (lambda: sim.run("scaleout", capacity=0), "capacity"),
        (lambda: sim.run("storm", seed=-1), "seed"),
    ],
)
def test_bad_parameters_raise_sim_errors(call, message):
    with pytest.raises(SimError, match=message):
        call()


def test_a_result_prints_short():
    r = sim.run("storm", profile="crun", n=1000, seed=1)
    assert len(repr(r)) < 200 and "n=1000" in repr(r)
