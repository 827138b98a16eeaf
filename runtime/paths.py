"""Where vmvc keeps its state on disk.

``$VMVC_ROOT`` overrides everything (tests point it at a temp dir). Otherwise root uses
``/var/lib/vmvc`` like Docker's ``/var/lib/docker``; other users get ``~/.local/share/vmvc``.
Each subsystem owns one subdirectory: ``images/``, ``containers/``, ``kernels/``.

Plain strings and ``os.path``, not pathlib: ``vmvc run`` imports this on every start, and pathlib
alone costs it ~3 ms.
"""

from __future__ import annotations

import os


def state_root() -> str:
    env = os.environ.get("VMVC_ROOT")
    if env:
        return os.path.abspath(env)
    if os.geteuid() == 0:
        return "/var/lib/vmvc"
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data, "vmvc")


def subdir(name: str) -> str:
    """``state_root()/name``, created on first use."""
    path = os.path.join(state_root(), name)
    os.makedirs(path, exist_ok=True)
    return path
