"""Robustness tests reuse the engine fixtures (private state root, spawner stopped, no leaks)."""

from __future__ import annotations

import pytest

from tests.containers.conftest import REAL, engine, run  # noqa: F401  (fixtures)


@pytest.fixture
def vmvc(engine):  # noqa: F811
    """``vmvc(*args)`` -> CompletedProcess of the real CLI on the engine's state root."""
    from tests.robustness.cli import vmvc as run_cli

    return run_cli


__all__ = ["REAL"]
