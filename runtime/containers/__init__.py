"""A small, real container engine: namespaces, cgroups, overlay rootfs, a pre-forked spawner.

    >>> from runtime.containers import Engine, Spec
    >>> Engine().run(Spec("busybox", ["uname", "-r"], auto_remove=True)).stdout

See :mod:`runtime.containers.engine` for the verbs and :mod:`runtime.containers.spawner` for why
a start costs a few milliseconds.
"""

from runtime.containers.engine import Engine, RunResult
from runtime.containers.spec import Spec, Volume

__all__ = ["Engine", "RunResult", "Spec", "Volume"]
