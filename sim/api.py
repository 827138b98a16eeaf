"""``sim.run``: one call from a notebook to a result you can look at.

    >>> import sim
    >>> r = sim.run("storm", profile="kvm-typical", n=8, seed=1)
    >>> r.ready_times.shape, r.refused.size
    ((8,), 0)
    >>> fig = r.plot_timeline()          # Gantt, one colour per stage
    >>> fig = r.plot_cdf()               # CDF of ready times
    >>> fig = r.plot_memory()            # memory per instance, stacked by component

Host knobs pass straight through: ``cores=4``, ``memory_mib=8192``, ``disk_mib_s=500``,
``cpu_model="fifo"`` (whole cores, FIFO) or ``"ps"`` (processor sharing, default),
``admission="refuse"`` (or ``"wait"``). ``jitter=False`` removes randomness; ``cache="cold"``
starts with empty page/layer caches (the first container of an image pulls it).
"""

from __future__ import annotations

from sim import scenarios
from sim.results import Result


def run(scenario: str, profile="kvm-typical", kind: str | None = None, seed: int = 0, **params) -> Result:
    """Run ``scenario`` (start, storm, density, scaleout, cluster) with ``profile``; see module doc."""
    return scenarios.get(scenario)(profile, kind=kind, seed=seed, **params)
