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
        joined_r, joined_w = os.pipe()
        go_r, go_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child's exit status says whether it joined; nothing is swallowed
            code = 1
            try:
                os.close(joined_r), os.close(go_w)
                cg.join(name)
                os.write(joined_w, b"j")
                os.read(go_r, 1)  # stay in the cgroup until the parent has looked
                code = 0
            finally:
                os._exit(code)
        os.close(joined_w), os.close(go_r)
        try:
            assert os.read(joined_r, 1) == b"j", "the child failed to join"
            assert cg.pids(name) == [pid]
        finally:
            os.close(go_w)  # the child may go
            _, status = os.waitpid(pid, 0)
            os.close(joined_r)
        assert os.waitstatus_to_exitcode(status) == 0
        assert cg.pids(name) == []
        assert cg.oom_killed(name) is False
    finally:
        cg.remove(name)
    assert not cg.exists(name)
