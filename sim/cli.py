"""Simulate VM boots and container starts (SimPy)"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    """Simulate VM boots and container starts (SimPy)"""
    print("vmvc sim: the simulation is not built yet (see the sim issue).", file=sys.stderr)
    return 2
