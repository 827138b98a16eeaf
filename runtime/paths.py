"""Where vmvc keeps its state on disk.

``$VMVC_ROOT`` overrides everything (tests point it at a temp dir). Otherwise root uses
``/var/lib/vmvc`` like Docker's ``/var/lib/docker``; other users get ``~/.local/share/vmvc``.
Each subsystem owns one subdirectory: ``images/``, ``containers/``, ``kernels/``, ``cgroup`` names.
"""

from __future__ import annotations

import os
from pathlib import Path


def state_root() -> Path:
    env = os.environ.get("VMVC_ROOT")
    if env:
        return Path(env)
    if os.geteuid() == 0:
        return Path("/var/lib/vmvc")
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local/share")) / "vmvc"


def subdir(name: str) -> Path:
    """``state_root()/name``, created on first use."""
    path = state_root() / name
    path.mkdir(parents=True, exist_ok=True)
    return path
