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

Questions the model answers (each a line in a notebook or the CLI; compare profiles on one host
by passing ``cores=``/``memory_mib=``, since each profile brings its own reference host):

* Why do containers start faster? ``sim.run("start", profile="kvm-typical")`` vs ``"crun"``: the
  VM's time goes to firmware, a kernel and an init system the container never runs.
* Where does that stop being true? ``"microvm"`` (Firecracker-class, ~110 ms) starts faster than
  ``"docker"`` (~250 ms of CLI, daemons and shim), though it costs ten times the memory.
* What does a boot storm do? ``sim.run("storm", profile="tcg-this-kind", n=8)``: CPU-bound boots
  share 2 cores, so the last is ready after ~4x the single boot.
* How many fit? ``sim.run("density", profile="docker")``: daemons are paid once, a shim per
  container, the image's pages are shared; a VM pays its guest RAM every time.
* Can it absorb a spike? ``sim.run("scaleout", profile="full-os-vm")`` drops requests for a minute;
  ``"crun"`` catches up in seconds.
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
