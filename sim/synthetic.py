"""Synthetic measurements from a known parameter set: the honest way to test calibration offline.

We cannot ship real measurements of every host, so tests (and curious students) generate
"measurements" by simulating a *known* profile with jitter, then adding measurement noise; the
calibration must recover parameters that predict those storms. Real validation happens when the
benchmark (``vmvc bench``) feeds records measured on a real host into :mod:`sim.calibrate`.

    >>> recs = records(truth(), seed=1, repeats=3, ct_ns=(1, 4), vm_ns=(1, 2))
    >>> sorted({r["type"] for r in recs})
    ['host', 'stage', 'storm']
"""

from __future__ import annotations

import numpy as np

from sim.profiles import MIB, Profile, load, parse, to_dict


def truth() -> Profile:
    """The known parameters: ``tcg-this-kind`` VMs and ``crun`` containers on one 2-core host."""
    vm = to_dict(load("tcg-this-kind"))
    ct = to_dict(load("crun"))
    vm["name"] = "synthetic-truth"
    vm["instances"]["container"] = ct["instances"]["container"]
    return parse(vm)


def records(
    profile: Profile,
    seed: int = 0,
    repeats: int = 10,
    ct_ns=(1, 2, 4, 8, 16),
    vm_ns=(1, 2, 3, 4),
    noise: float = 0.03,
    storm_repeats: int = 4,
) -> list[dict]:
    """Stage records from ``repeats`` single starts per kind, storm records for each N, with noise."""
    from sim.scenarios import storm

    rng = np.random.default_rng(seed)
    h = profile.host
    out: list[dict] = [
        {
            "type": "host",
            "cores": h.cores,
            "memory_mib": h.memory / MIB,
            "disk_mib_s": h.disk_bw / MIB,
            "synthetic": True,
        }
    ]
    for kind, ns in (("vm", vm_ns), ("container", ct_ns)):
        if kind not in profile.instances:
            continue
        spec = profile.instances[kind]
        cpu = {s.name: s.cpu for s in spec.stages}
        for rep in range(repeats):
            r = storm.run(profile, kind, seed=int(rng.integers(2**31)), n=1, interval=0.0)
            for row in r.records:
                factor = float(rng.lognormal(0, noise))
                secs = row["duration"] * factor
                plain = next(s for s in spec.stages if s.name == row["stage"])
                solo = plain.solo_seconds(h)
                cpu_s = secs * (cpu[row["stage"]] / solo) if solo > 0 else 0.0
                out.append(
                    {
                        "type": "stage",
                        "kind": kind,
                        "stage": row["stage"],
                        "seconds": secs,
                        "cpu_seconds": min(cpu_s, secs),
                        "run": rep,
                        "synthetic": True,
                    }
                )
        for n in ns:
            for rep in range(storm_repeats):
                r = storm.run(profile, kind, seed=int(rng.integers(2**31)), n=n)
                ready = r.ready_times * rng.lognormal(0, noise, size=n)
                out.append(
                    {
                        "type": "storm",
                        "kind": kind,
                        "n": n,
                        "ready_s": ready.tolist(),
                        "run": rep,
                        "synthetic": True,
                    }
                )
    return out
