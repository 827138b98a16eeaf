"""The backend the doctor picks, on this host's real cgroupfs."""

from __future__ import annotations

import os

import pytest

from runtime.cgroups import Limits, manager

pytestmark = [pytest.mark.root, pytest.mark.cgroups]


def test_create_limit_join_remove(no_leaks):
    cg = manager()
    name = f"vmvc-test-{os.getpid()}"
    cg.create(name)
    try:
        cg.set_limits(name, Limits(memory=64 << 20, cpus=0.5, pids=20))
        s = cg.stats(name)
        assert (s.memory_limit, s.pids_limit) == (64 << 20, 20)
        pid = os.fork()
        if pid == 0:
            try:
                cg.join(name)
                os.read(os.open("/dev/zero", os.O_RDONLY), 1)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        assert cg.pids(name) == []
        assert cg.oom_killed(name) is False
    finally:
        cg.remove(name)
    assert not cg.exists(name)
