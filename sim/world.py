"""One simulated run's world: a SimPy environment, seeded randomness, hosts and a recorder.

Scenarios build a :class:`World`, launch instances into it, run it and turn it into a
:class:`~sim.results.Result`. Everything random comes from one ``numpy`` generator seeded with
``seed``, and SimPy breaks ties in scheduling order, so the same seed gives identical results.
"""

from __future__ import annotations

import time

import numpy as np
import simpy

from sim.errors import SimError
from sim.host import Host
from sim.profiles import MIB, Profile, load
from sim.results import Recorder, Result
from sim.stages import jitter_sampler, lifecycle

HOST_OVERRIDES = {"cores", "memory_mib", "disk_mib_s", "cpu_model", "admission"}


def check_int(name: str, value, minimum: int = 1, maximum: int = 1_000_000) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not minimum <= value <= maximum:
        raise SimError(f"{name} must be an integer from {minimum} to {maximum}, got {value!r}")
    return int(value)


def check_float(name: str, value, minimum: float = 0.0, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.number))
        or not value >= minimum
        or value != value
        or value == float("inf")
    ):
        raise SimError(f"{name} must be a number >= {minimum:g}, got {value!r}")
    return float(value)


class World:
    def __init__(
        self,
        profile: str | Profile,
        kind: str | None = None,
        seed: int = 0,
        jitter: bool = True,
        hosts: int = 1,
        cache: str = "warm",
        **host_overrides,
    ) -> None:
        unknown = set(host_overrides) - HOST_OVERRIDES
        if unknown:
            raise SimError(f"unknown parameter(s): {', '.join(sorted(unknown))}")
        if cache not in ("warm", "cold"):
            raise SimError(f"cache must be 'warm' or 'cold', got {cache!r}")
        self.seed = check_int("seed", seed, 0, 2**63 - 1)
        prof = load(profile)
        overrides = {k: v for k, v in host_overrides.items() if v is not None}
        self.profile = prof.with_host(**overrides) if overrides else prof
        self.spec = self.profile.instance(kind)
        self.kind = self.spec.kind
        self.env = simpy.Environment()
        self.rng = np.random.default_rng(self.seed)
        warm = (
            {f"{self.spec.image}/{s.name}" for s in self.spec.stages if s.cache == "shared"}
            if cache == "warm"
            else set()
        )
        self.hosts = [Host(self.env, self.profile.host, i, warm) for i in range(check_int("hosts", hosts))]
        for h in self.hosts:
            h.shared_used = self.spec.shared_memory if warm else 0.0
        self.rec = Recorder()
        self.sample = jitter_sampler(self.spec, self.rng if jitter else None)
        self.wall = 0.0

    def launch(self, host: Host, lifetime: float | None = None, on_ready=None, reserved: bool = False) -> int:
        """Start one instance on ``host`` now; returns its index."""
        idx = self.rec.new(self.env.now, host.index)
        self.env.process(
            lifecycle(self.env, host, self.spec, idx, self.rec, self.sample(), lifetime, on_ready, reserved)
        )
        return idx

    def refuse(self) -> int:
        """Record an instance no host could take (cluster placement found no room)."""
        idx = self.rec.new(self.env.now, -1)
        self.rec.refused(idx)
        return idx

    def run(self, until: float | None = None) -> None:
        t0 = time.perf_counter()
        self.env.run(until=until)
        self.wall += time.perf_counter() - t0

    @property
    def events(self) -> int:
        """Events SimPy scheduled so far (its internal event counter)."""
        counter = getattr(self.env, "_eid", None)
        return next(counter) if counter is not None else 0

    def result(self, scenario: str, params: dict, extra: dict | None = None) -> Result:
        spec = self.spec
        memory = {
            "components": spec.memory_components(),
            "private": spec.private_memory,
            "shared": spec.shared_memory,
            "host_overhead": spec.host_overhead,
            "host_memory": self.profile.host.memory,
            "admitted": int(np.sum(~np.isnan(np.array(self.rec.admitted)))) if self.rec.admitted else 0,
        }
        hosts = [
            {
                "index": h.index,
                "placed": h.placed,
                "memory_peak": h.memory_peak,
                "shared": h.shared_used,
                "cpu_core_s": h.cpu.served if h.cpu is not None else None,
                "disk_mib_read": h.disk.served / MIB,
            }
            for h in self.hosts
        ]
        return Result.build(
            self.rec,
            scenario=scenario,
            profile=self.profile.name,
            kind=self.kind,
            seed=self.seed,
            params=params,
            stage_names=[s.name for s in spec.stages],
            memory=memory,
            hosts=hosts,
            events=self.events,
            wall=self.wall,
            extra=extra or {},
        )


def mib(nbytes: float) -> float:
    return nbytes / MIB
