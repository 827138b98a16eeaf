"""Robustness tests reuse the engine fixtures (private state root, spawner stopped, no leaks)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.containers.conftest import REAL, engine, run  # noqa: F401  (fixtures)


@pytest.fixture
def vmvc(engine):  # noqa: F811
    """``vmvc(*args)`` -> CompletedProcess of the real CLI on the test's state root."""

    def _vmvc(*args, input=None, timeout=120):
        return subprocess.run([sys.executable, "-m", "runtime.cli.main", *args], capture_output=True,
                              text=True, input=input, timeout=timeout, env=os.environ.copy())

    return _vmvc


__all__ = ["REAL"]
