"""Boot storm: N instances arrive at once (or ``interval`` seconds apart) on one host.

    >>> import sim
    >>> vms = sim.run("storm", profile="kvm-typical", n=8, seed=1)
    >>> cts = sim.run("storm", profile="crun", n=8, seed=1)
    >>> bool(vms.summary()["makespan"] > 10 * cts.summary()["makespan"])
    True

With ``lifetime`` each instance leaves that many seconds after it is ready (freeing memory for
waiting instances); without it instances stay.
"""

from __future__ import annotations

from sim.world import World, check_float, check_int


def run(
    profile,
    kind=None,
    seed: int = 0,
    n: int = 8,
    interval: float = 0.0,
    lifetime: float | None = None,
    jitter: bool = True,
    cache: str = "warm",
    scenario: str = "storm",
    **host,
):
    n = check_int("n", n)
    interval = check_float("interval", interval)
    lifetime = check_float("lifetime", lifetime, allow_none=True)
    world = World(profile, kind, seed, jitter=jitter, cache=cache, **host)
    (h,) = world.hosts

    def arrivals(env):
        for i in range(n):
            if i and interval:
                yield env.timeout(interval)
            world.launch(h, lifetime)
            h.placed += 1

    if interval:
        world.env.process(arrivals(world.env))
    else:
        for _ in range(n):
            world.launch(h, lifetime)
        h.placed = n
    world.run()
    params = {"n": n, "interval": interval, "lifetime": lifetime, "jitter": jitter, "cache": cache, **host}
    extra = {
        "solo_seconds": world.spec.solo_seconds(world.profile.host, warm=cache == "warm"),
        "cores": world.profile.host.cores,
        "cpu_model": world.profile.host.cpu_model,
    }
    return world.result(scenario, params, extra)
