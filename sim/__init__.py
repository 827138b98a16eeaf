"""A SimPy model of VM boot versus container start on a host with finite resources.

Pure Python: no root, no Linux, no import of ``runtime``. A notebook needs three lines::

    >>> import sim
    >>> r = sim.run("storm", profile="kvm-typical", n=8, seed=1)
    >>> c = sim.run("storm", profile="crun", n=8, seed=1)
    >>> bool(r.ready_times.max() > c.ready_times.max())
    True

Then ``r.summary()``, ``r.records``, ``r.ready_times`` (numpy) and ``r.plot_timeline()``,
``r.plot_cdf(others=[c])``, ``r.plot_memory(others=[c])``. Scenarios: ``start``, ``storm``,
``density``, ``scaleout``, ``cluster`` (:mod:`sim.scenarios`); many at once: :func:`sim.sweep.sweep`.
Profiles (:mod:`sim.profiles`) are JSON data files: :func:`profile_names` lists them. Fit a profile to
measurements with :mod:`sim.calibrate` and check it with :mod:`sim.validate`.
"""

from sim.api import run
from sim.errors import SimError
from sim.profiles import available as _available
from sim.profiles import load as load_profile

__version__ = "0.1.0"
__all__ = ["run", "profile_names", "load_profile", "SimError"]


def profile_names() -> list[str]:
    """Names of the profiles on the search path."""
    return list(_available())
