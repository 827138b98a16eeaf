"""Single start: one instance on an idle host, stage by stage.

>>> import sim
>>> r = sim.run("start", profile="kvm-typical", jitter=False)
>>> bool(abs(r.ready_times[0] - r.summary()["solo_seconds"]) < 1e-9)  # one instance = sum of stages
True
"""

from __future__ import annotations

from sim.scenarios import storm


def run(profile, kind=None, seed: int = 0, jitter: bool = True, cache: str = "warm", **host):
    return storm.run(profile, kind, seed, n=1, jitter=jitter, cache=cache, scenario="start", **host)
