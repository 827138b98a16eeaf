"""cgroups for containers: one :class:`Manager` interface, a v1 and a v2 backend.

>>> from runtime.cgroups import manager, Limits
>>> cg = manager()                      # v1 or v2, as the doctor's cgroup probe decides
>>> cg.create("vmvc-demo"); cg.set_limits("vmvc-demo", Limits(memory=64 << 20, pids=50))
>>> cg.remove("vmvc-demo")
"""

from __future__ import annotations

from runtime.cgroups.base import Limits, Manager, Stats
from runtime.errors import VmvcError


def manager(root: str = "/", backend: str | None = None) -> Manager:
    """The backend for this host, chosen like ``vmvc doctor`` does (``backend`` forces one)."""
    from runtime.doctor.cgroups import backend_for, layout
    from runtime.rootless import USERNS

    if USERNS and root == "/" and backend is None:  # a rootless spawner: no cgroups it may write
        from runtime.rootless.cgroups import NoLimits

        return NoLimits()
    info = layout(root)
    backend = backend or backend_for(info)
    if backend == "v2" and info["v2_path"]:
        from runtime.cgroups.v2 import V2

        return V2(info["v2_path"], others=info["v1"])
    if backend == "v1" and info["v1"]:
        from runtime.cgroups.v1 import V1

        return V1.from_layout(info)
    raise VmvcError("no usable cgroup hierarchy on this host (see 'vmvc doctor')")


__all__ = ["Limits", "Manager", "Stats", "manager"]
