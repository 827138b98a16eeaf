"""A small cluster: instances arrive and a placement policy picks a host for each.

Policies: ``spread`` (the host running the fewest instances), ``binpack`` (the fullest host that
still fits: fewer hosts, more boot contention), ``first-fit``, ``random`` (seeded) and ``locality``
(prefer hosts that already cache the image, then spread: matters with ``cache="cold"``). An
instance no host can fit is refused.

    >>> import sim
    >>> a = sim.run("cluster", profile="kvm-typical", hosts=4, n=32, policy="spread", seed=1)
    >>> b = sim.run("cluster", profile="kvm-typical", hosts=4, n=32, policy="binpack", seed=1)
    >>> [h["placed"] for h in a.hosts], [h["placed"] for h in b.hosts]
    ([8, 8, 8, 8], [29, 3, 0, 0])
    >>> bool(a.summary()["makespan"] < b.summary()["makespan"])
    True
"""

from __future__ import annotations

from sim.errors import SimError
from sim.world import World, check_float, check_int

POLICIES = ("spread", "binpack", "first-fit", "random", "locality")


def run(
    profile,
    kind=None,
    seed: int = 0,
    hosts: int = 4,
    n: int = 32,
    policy: str = "spread",
    interval: float = 0.0,
    lifetime: float | None = None,
    jitter: bool = True,
    cache: str = "warm",
    **host,
):
    if policy not in POLICIES:
        raise SimError(f"unknown policy '{policy}' (policies: {', '.join(POLICIES)})")
    n = check_int("n", n)
    interval = check_float("interval", interval)
    lifetime = check_float("lifetime", lifetime, allow_none=True)
    host.pop("admission", None)
    world = World(
        profile,
        kind,
        seed,
        jitter=jitter,
        hosts=check_int("hosts", hosts, 1, 10_000),
        cache=cache,
        admission="refuse",
        **host,
    )
    spec = world.spec
    key = spec.image if spec.host_overhead else ""
    image_keys = [f"{spec.image}/{s.name}" for s in spec.stages if s.cache == "shared"]
    place_rng = world.rng.spawn(1)[0]

    def choose():
        fits = [h for h in world.hosts if h.fits(spec.private_memory, spec.host_overhead, key)]
        if not fits:
            return None
        if policy == "first-fit":
            return fits[0]
        if policy == "binpack":
            return min(fits, key=lambda h: (h.memory_free, h.index))
        if policy == "random":
            return fits[int(place_rng.integers(len(fits)))]
        if policy == "locality":
            cached = [
                h for h in fits if image_keys and all(k in h.cache or k in h.inflight for k in image_keys)
            ]
            fits = cached or fits
        return min(fits, key=lambda h: (h.running, h.index))

    def arrivals(env):
        for i in range(n):
            if i and interval:
                yield env.timeout(interval)
            h = choose()
            if h is None:
                world.refuse()
                continue
            h.placed += 1
            h.admit(spec.private_memory, spec.host_overhead, key)  # fits: reserved now, not later
            world.launch(h, lifetime, reserved=True)

    world.env.process(arrivals(world.env))
    world.run()
    params = {
        "hosts": hosts,
        "n": n,
        "policy": policy,
        "interval": interval,
        "lifetime": lifetime,
        "jitter": jitter,
        "cache": cache,
        **host,
    }
    return world.result("cluster", params, {"policy": policy})
