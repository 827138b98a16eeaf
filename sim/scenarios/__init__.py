"""Scenarios: each module has ``run(profile, kind=None, seed=0, **params) -> Result``.

``start`` (one instance), ``storm`` (N at once), ``density`` (how many fit), ``scaleout`` (an
autoscaler under a request spike) and ``cluster`` (placement across hosts).
"""

from __future__ import annotations

import importlib

from sim.errors import SimError

NAMES = ("start", "storm", "density", "scaleout", "cluster")


def get(name: str):
    """The ``run`` function of scenario ``name``."""
    if name not in NAMES:
        raise SimError(f"unknown scenario '{name}' (scenarios: {', '.join(NAMES)})")
    return importlib.import_module(f"sim.scenarios.{name}").run
