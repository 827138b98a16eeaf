"""Run the real ``vmvc`` CLI in a subprocess on the current ``$VMVC_ROOT``."""

from __future__ import annotations

import os
import subprocess
import sys

_LAUNCHER = os.path.join(os.path.dirname(sys.executable), "vmvc")


def vmvc(*args: str, input: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """``vmvc ARGS`` (the installed fast launcher when there is one) -> CompletedProcess (text)."""
    cmd = [_LAUNCHER] if os.access(_LAUNCHER, os.X_OK) else [sys.executable, "-m", "runtime.cli.main"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, input=input, timeout=timeout,
                          env=os.environ.copy())
