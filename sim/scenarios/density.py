"""Density: how many instances fit in the host's memory, and what each one really costs.

An instance's private memory (guest RAM for a VM; shim and app for a container) is paid per
instance; per-host daemons (dockerd, containerd) and the shared page/layer cache are paid once and
spread over every instance. The host is filled with a storm under ``admission="refuse"``; the
simulated count that fits must equal the analytic ``⌊(M - daemons) / private⌋``.

    >>> import sim
    >>> r = sim.run("density", profile="microvm", memory_mib=4096, jitter=False)
    >>> s = r.summary()
    >>> s["fit"] == s["analytic_fit"] == 27            # (4096 MiB) / (149 MiB per microVM)
    True
"""

from __future__ import annotations

import math

import numpy as np

from sim.scenarios import storm
from sim.world import check_int

MIB = 1024 * 1024


def run(
    profile,
    kind=None,
    seed: int = 0,
    n: int | None = None,
    limit: int = 5000,
    jitter: bool = True,
    cache: str = "warm",
    **host,
):
    from sim.profiles import load

    host.pop("admission", None)
    limit = check_int("limit", limit)
    prof = load(profile)
    spec = prof.instance(kind)
    memory = host.get("memory_mib", prof.host.memory / MIB) * MIB
    private, overhead, shared = spec.private_memory, spec.host_overhead, spec.shared_memory
    analytic = int((memory - overhead) // private) if private > 0 else limit
    analytic = max(analytic, 0)
    if n is None:
        n = min(analytic + max(2, analytic // 10), limit)
    n = check_int("n", n)
    result = storm.run(
        prof, kind, seed, n=n, jitter=jitter, cache=cache, admission="refuse", scenario="density", **host
    )
    fit = int(n - len(result.refused))
    k = np.arange(1, max(fit, 1) + 1, dtype=float)
    result.params.update({"n": n, "limit": limit})
    result.extra.update(
        {
            "fit": fit,
            "analytic_fit": analytic,
            "capped": analytic >= n,
            "private_mib": private / MIB,
            "per_host_mib": (overhead + shared) / MIB,
            "per_instance_mib_at_fit": (private + (overhead + shared) / max(fit, 1)) / MIB,
            "count": k,
            "per_instance_mib": (private + (overhead + shared) / k) / MIB,
            "host_used_mib": (overhead + shared + k * private) / MIB,
            "host_memory_mib": memory / MIB,
            "ceil_check": math.isfinite(analytic),
        }
    )
    return result
