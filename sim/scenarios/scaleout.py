"""Scale-out under a request spike: an autoscaler adds instances, which must boot before they help.

Requests arrive as a Poisson stream at ``base_rate`` per second, jumping to ``spike_rate`` from
``spike_at`` for ``spike_for`` seconds. Each ready instance serves one request at a time
(exponential service, mean ``1/capacity`` s) from one shared FIFO queue. A request that waits longer
than ``timeout`` or finds ``queue_limit`` requests ahead is dropped. Every ``period`` seconds the
autoscaler measures the arrival rate and the queue and asks for
``⌈rate / (capacity·utilisation)⌉ + ⌈queue / (capacity·drain)⌉`` instances (up to ``max_instances``),
counting ones still booting. It never scales down (the spike is what we study). Request service is
not charged to the host's CPU; boots are, and compete with each other.

*Time to absorb the spike*: from ``spike_at`` to the first sample where the queue is no longer
than the number of ready instances and they can serve the current rate.

    >>> import sim
    >>> vm = sim.run("scaleout", profile="full-os-vm", seed=1)
    >>> ct = sim.run("scaleout", profile="crun", seed=1)
    >>> bool(ct.summary()["absorb_s"] < vm.summary()["absorb_s"])
    True
    >>> bool(ct.summary()["dropped"] < vm.summary()["dropped"])
    True
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from sim.world import World, check_float, check_int


def run(
    profile,
    kind=None,
    seed: int = 0,
    duration: float = 120.0,
    base_rate: float = 40.0,
    spike_rate: float = 400.0,
    spike_at: float = 20.0,
    spike_for: float = 60.0,
    capacity: float = 50.0,
    initial: int = 2,
    period: float = 1.0,
    utilisation: float = 0.8,
    drain: float = 10.0,
    max_instances: int = 64,
    timeout: float = 5.0,
    queue_limit: int = 100_000,
    jitter: bool = True,
    cache: str = "warm",
    **host,
):
    duration = check_float("duration", duration, 1e-6)
    base_rate = check_float("base_rate", base_rate)
    spike_rate = check_float("spike_rate", spike_rate)
    spike_at = check_float("spike_at", spike_at)
    spike_for = check_float("spike_for", spike_for)
    capacity = check_float("capacity", capacity, 1e-9)
    initial = check_int("initial", initial, 0)
    period = check_float("period", period, 1e-6)
    utilisation = check_float("utilisation", utilisation, 1e-6)
    drain = check_float("drain", drain, 1e-6)
    max_instances = check_int("max_instances", max_instances, max(initial, 1))
    timeout = check_float("timeout", timeout, 0.0)
    queue_limit = check_int("queue_limit", queue_limit, 1)
    world = World(profile, kind, seed, jitter=jitter, cache=cache, **host)
    env, rng = world.env, world.rng.spawn(1)[0]
    (h,) = world.hosts
    queue: deque[float] = deque()
    idle: list = []
    stats = {"arrived": 0, "dropped": 0, "served": 0, "requested": initial}
    delays: list[float] = []
    ready = [0]

    def rate_at(t: float) -> float:
        return spike_rate if spike_at <= t < spike_at + spike_for else base_rate

    def arrivals(env):
        while True:
            r = rate_at(env.now)
            if r <= 0:
                nxt = spike_at if env.now < spike_at else duration
                if nxt <= env.now:
                    return
                yield env.timeout(nxt - env.now)
                continue
            yield env.timeout(rng.exponential(1.0 / r))
            if env.now >= duration:
                return
            stats["arrived"] += 1
            if len(queue) >= queue_limit:
                stats["dropped"] += 1
                continue
            queue.append(env.now)
            if idle:
                idle.pop().succeed()

    def worker(env):
        while True:
            while queue:
                arrived = queue.popleft()
                if env.now - arrived > timeout:
                    stats["dropped"] += 1
                    continue
                yield env.timeout(rng.exponential(1.0 / capacity))
                delays.append(env.now - arrived)
                stats["served"] += 1
            wake = env.event()
            idle.append(wake)
            yield wake

    def on_ready(_idx):
        ready[0] += 1
        env.process(worker(env))

    samples: list[tuple] = []

    def autoscaler(env):
        last_arrived = 0
        while env.now < duration:
            yield env.timeout(period)
            rate = (stats["arrived"] - last_arrived) / period
            last_arrived = stats["arrived"]
            want = math.ceil(rate / (capacity * utilisation)) + math.ceil(len(queue) / (capacity * drain))
            want = min(max(want, initial), max_instances)
            add = max(0, want - stats["requested"])
            for _ in range(add):
                world.launch(h, on_ready=on_ready)
            stats["requested"] += add
            h.placed = stats["requested"]
            samples.append(
                (env.now, len(queue), ready[0], stats["requested"] - ready[0], rate, rate_at(env.now))
            )

    for _ in range(initial):
        world.launch(h, on_ready=on_ready)
    h.placed = initial
    env.process(arrivals(env))
    env.process(autoscaler(env))
    world.run(until=duration)

    s = np.array(samples, dtype=float).reshape(-1, 6)
    absorb = math.nan
    if len(s):
        after = s[s[:, 0] >= spike_at]
        ok = after[(after[:, 1] <= after[:, 2]) & (after[:, 2] * capacity >= after[:, 5])]
        absorb = float(ok[0, 0] - spike_at) if len(ok) else math.nan
    d = np.array(delays)
    params = {
        "duration": duration,
        "base_rate": base_rate,
        "spike_rate": spike_rate,
        "spike_at": spike_at,
        "spike_for": spike_for,
        "capacity": capacity,
        "initial": initial,
        "period": period,
        "utilisation": utilisation,
        "drain": drain,
        "max_instances": max_instances,
        "timeout": timeout,
        "queue_limit": queue_limit,
        "jitter": jitter,
        "cache": cache,
        **host,
    }
    extra = {
        "absorb_s": absorb,
        "arrived": stats["arrived"],
        "served": stats["served"],
        "dropped": stats["dropped"],
        "drop_fraction": stats["dropped"] / stats["arrived"] if stats["arrived"] else 0.0,
        "delay_p50": float(np.median(d)) if len(d) else math.nan,
        "delay_p99": float(np.percentile(d, 99)) if len(d) else math.nan,
        "instances": stats["requested"],
        "t": s[:, 0],
        "queue": s[:, 1],
        "ready_instances": s[:, 2],
        "booting": s[:, 3],
        "rate": s[:, 4],
    }
    return world.result("scaleout", params, extra)
