"""Caches, cgroup grace periods and memory components: the host behaviours behind the lessons."""

import numpy as np

import sim


def _stage(r, name):
    return r.stage_durations()[name]


def test_second_container_of_an_image_pays_less_than_the_first():
    r = sim.run("storm", profile="docker", n=3, interval=2.0, cache="cold", jitter=False)
    pull = _stage(r, "image_pull")
    assert pull[0] > 0.3 and pull[1] == 0 and pull[2] == 0  # pulled once, present afterwards
    rootfs = _stage(r, "rootfs")
    assert rootfs[1] < rootfs[0]


def test_concurrent_containers_wait_for_one_pull_instead_of_pulling_twice():
    r = sim.run("storm", profile="crun", n=5, cache="cold", jitter=False)
    pull = _stage(r, "image_pull")
    assert np.allclose(pull, pull[0])  # everyone waited for the single in-flight pull
    assert r.hosts[0]["shared"] == 2 * 1024 * 1024  # the layer is cached once


def test_vms_with_private_disks_pay_full_price_every_time():
    r = sim.run("storm", profile="full-os-vm", n=2, interval=200.0, jitter=False)
    services = _stage(r, "services")
    assert np.isclose(services[0], services[1])


def test_vms_share_the_kernel_file_in_the_page_cache():
    r = sim.run("storm", profile="microvm", n=2, interval=1.0, cache="cold", jitter=False)
    load = _stage(r, "kernel_load")
    assert load[1] < load[0] / 10


def test_first_cgroup_move_after_idle_pays_the_grace_period_and_concurrent_movers_share_it():
    idle = sim.run("storm", profile="crun", n=2, interval=5.0, jitter=False)
    assert np.allclose(_stage(idle, "cgroup_setup"), 0.012 + 0.0005)  # both after idle
    busy = sim.run("storm", profile="crun", n=2, interval=0.1, jitter=False)
    assert np.isclose(_stage(busy, "cgroup_setup")[1], 0.0004 + 0.0005)  # back-to-back
    storm = sim.run("storm", profile="crun", n=4, jitter=False)
    moves = _stage(storm, "cgroup_setup")
    assert moves.max() < 0.012 * 2  # nobody waits for a second full grace period


def test_docker_daemons_are_paid_once_per_host():
    r = sim.run("density", profile="docker", memory_mib=1000, jitter=False)
    e = r.summary()
    assert e["fit"] == e["analytic_fit"] == (1000 - 174) // 14
    assert r.memory["components"] == {"shim": 13 * 2**20, "app": 2**20}
