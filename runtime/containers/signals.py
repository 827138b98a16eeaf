"""Signal names and numbers as docker spells them, and a wait status as docker's exit code.

A module of its own so the CLI (``vmvc kill -s``), the engine and the spawner share one parser
without the CLI importing the spawner (which pulls in everything a start needs).
"""

from __future__ import annotations

import os
import signal


def signal_number(sig) -> int:
    """``9``, ``"9"``, ``"KILL"``, ``"sigkill"`` -> 9; ValueError for anything else."""
    if isinstance(sig, int) or str(sig).isdigit():
        return int(sig)
    name = str(sig).upper()
    name = name if name.startswith("SIG") else "SIG" + name
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise ValueError(f"invalid signal: {sig}") from None


def exit_code(status: int) -> int:
    """A ``waitpid`` status as docker reports it: the exit code, or 128 + the signal that killed it."""
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code
