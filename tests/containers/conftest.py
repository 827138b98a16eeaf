"""Fixtures for engine tests: a private state root whose spawner is shut down after each test."""

from __future__ import annotations

import pytest

REAL = [
    pytest.mark.root,
    pytest.mark.namespaces,
    pytest.mark.overlay,
    pytest.mark.cgroups,
    pytest.mark.busybox,
]


@pytest.fixture
def engine(no_leaks, vmvc_root):
    """An Engine on a temp ``$VMVC_ROOT``; after the test its spawner is stopped and nothing may leak."""
    from runtime.containers import Engine

    eng = Engine()
    yield eng
    eng.list()  # a test that killed the spawner and failed: a new one adopts what runs, shutdown kills it
    eng.shutdown()


@pytest.fixture
def run(engine):
    """``run(*cmd, **spec)`` -> RunResult of a ``--rm`` busybox container."""
    from runtime.containers import Spec

    def _run(*cmd, image="busybox", **kw):
        kw.setdefault("auto_remove", True)
        return engine.run(Spec(image, list(cmd), **kw))

    return _run
