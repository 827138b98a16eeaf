"""Running an instance through its stages on a host: the heart of the model.

Every stage, VM or container, is the same recipe: optional cache lookup, optional cgroup move,
then its wall-clock latency, its disk reads and its CPU work, one after the other. Each part is
stretched by contention for the shared resource it needs (disk bandwidth, cores), so a storm of
starts takes longer than one start. What a VM or a container *is* lives in the profile data; the
stage vocabularies are documented in :mod:`sim.vm` and :mod:`sim.container`.

An instance first reserves its private memory (:meth:`sim.host.Host.admit`); it may wait or be
refused. It is *ready* when its last stage ends. With ``lifetime`` it then runs that long and
leaves, giving its memory back.
"""

from __future__ import annotations

import numpy as np

from sim.host import Host
from sim.profiles import InstanceSpec


def jitter_sampler(spec: InstanceSpec, rng: np.random.Generator | None):
    """A function returning per-stage cost multipliers (lognormal, median 1) for one instance."""
    sigmas = np.array([s.jitter for s in spec.stages])
    if rng is None or not sigmas.any():
        ones = [1.0] * len(spec.stages)
        return lambda: ones
    return lambda: rng.lognormal(0.0, sigmas).tolist()


def lifecycle(
    env,
    host: Host,
    spec: InstanceSpec,
    idx: int,
    rec,
    scales: list[float],
    lifetime: float | None = None,
    on_ready=None,
    reserved: bool = False,
):
    """SimPy process for instance ``idx``: admission, stages, ready, optional lifetime.

    ``reserved``: the caller already reserved the memory (cluster placement does, synchronously).
    """
    private = spec.private_memory
    if not reserved:
        admitted = host.admit(private, spec.host_overhead, spec.image if spec.host_overhead else "")
        if admitted is None:
            rec.refused(idx)
            return
        if admitted is not True:
            yield admitted
    rec.admitted[idx] = env.now
    rows = rec.rows
    cpu = host.cpu  # processor sharing: one event per CPU part, no sub-generator (the hot path)
    for j, st in enumerate(spec.stages):
        start = env.now
        scale = scales[j]
        filling = None
        if st.cache == "shared":
            ckey = f"{spec.image}/{st.name}"
            if ckey in host.cache:
                scale *= st.hit
            elif ckey in host.inflight:
                yield host.inflight[ckey]
                scale *= st.hit
            else:
                host.inflight[ckey] = env.event()
                filling = ckey
        if st.grace:
            yield env.timeout(host.cgroup_move_delay())
        if st.delay:
            yield env.timeout(st.delay * scale)
        if st.io:
            yield host.read(st.io * scale)
        if st.cpu:
            if cpu is not None:
                yield cpu.serve(st.cpu * scale)
            else:
                yield from host.compute(st.cpu * scale)
        if filling is not None:
            host.fill(filling, st.shared)
        rows.append((idx, j, start, env.now))
    rec.ready[idx] = env.now
    if on_ready is not None:
        on_ready(idx)
    if lifetime is not None:
        yield env.timeout(lifetime)
        rec.gone[idx] = env.now
        host.release(private)
