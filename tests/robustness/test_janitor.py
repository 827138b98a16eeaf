"""The janitor never blocks the spawner, and a job that fails never ends it (issue 10)."""

from __future__ import annotations

import os
import time

from runtime.containers.init import keep_fds
from runtime.containers.janitor import Janitor


class RecordingCgroups:
    """Stands in for the cgroup backend in the janitor's child: appends each removal to a file; a
    cgroup named ``slow`` takes a second (a janitor busy deleting a huge tree), ``bad`` raises."""

    def __init__(self, log: str) -> None:
        self.log = log

    def remove(self, name: str) -> None:
        if name == "slow":
            time.sleep(1)
        if name == "bad":
            raise RuntimeError("boom")
        with open(self.log, "a") as f:
            f.write(name + "\n")


def test_a_busy_janitor_queues_jobs_instead_of_blocking_the_spawner(tmp_path):
    log = str(tmp_path / "removed")
    j = Janitor(RecordingCgroups(log), keep_fds)
    j.remove_cgroup("slow")
    for i in range(10000):  # ~130 KB of job lines: twice what a pipe holds
        j.remove_cgroup(f"cg{i:05d}")
    assert j.backlog, "the pipe never filled: the test did not exercise the backlog"
    j.remove_cgroup("bad")  # raises in the janitor: one line on stderr, the queue goes on
    j.remove_cgroup("last")
    j.close()
    with open(log) as f:
        done = f.read().split()
    assert done[0] == "slow" and done[-1] == "last" and len(done) == 10002
    assert not os.path.exists(f"/proc/{j.pid}") or j.pid == 0


def test_a_dead_janitor_hands_its_backlog_back(tmp_path):
    log = str(tmp_path / "removed")
    j = Janitor(RecordingCgroups(log), keep_fds)
    os.kill(j.pid, 9)
    os.waitpid(j.pid, 0)
    j.pid = 0
    j.remove_cgroup("after")  # EPIPE: done in the caller's process
    assert j.w is None
    with open(log) as f:
        assert f.read().split() == ["after"]
