"""A small, real container engine: namespaces, cgroups, an overlay rootfs, a pre-forked spawner.

    >>> from runtime.containers import Engine, Spec
    >>> eng = Engine()                                   # state under $VMVC_ROOT/containers
    >>> eng.run(Spec("busybox", ["uname", "-r"], auto_remove=True)).stdout      # the host's kernel
    >>> cid = eng.create(Spec("busybox", ["sleep", "60"], name="web", memory=64 << 20, pids_limit=50))
    >>> eng.start("web"); eng.exec_run("web", ["ps"]).stdout; eng.stats("web")
    >>> eng.stop("web", timeout=1); [e["log"] for e in eng.logs("web")]; eng.remove("web")

Streams (``run_session``, ``attach``, ``exec``, ``wait_session``) give :class:`Session` objects whose
frames are docker's attach stream: (1, stdout bytes), (2, stderr bytes), then ``exit_code``.
See :mod:`runtime.containers.engine` for every verb and :mod:`runtime.containers.spawner` for why a
start costs a few milliseconds.
"""

from runtime.containers.client import Session
from runtime.containers.engine import Engine, RunResult
from runtime.containers.spec import Spec, Volume

__all__ = ["Engine", "RunResult", "Session", "Spec", "Volume"]
