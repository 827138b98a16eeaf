"""The leak checks themselves: they see what this run made and nothing that others on the host made."""

from __future__ import annotations

import os
import subprocess

import psutil
import pytest

from runtime.containers.state import Containers
from tests import leaks


def _scope(tmp_path, **kw):
    run = tmp_path / "run"
    (run / "tmp").mkdir(parents=True, exist_ok=True)
    return leaks.Scope.of(str(run), tmp=str(run / "tmp"), **kw)


def test_the_tag_is_the_engines_cgroup_prefix(tmp_path):
    assert leaks.cgroup_tag(str(tmp_path / "c")) == Containers(tmp_path / "c").cgroup_prefix()


@pytest.mark.parametrize("layout", ["v2", "v1", "hybrid"])
def test_cgroups_of_the_runs_state_roots_are_seen_at_every_level(tmp_path, layout):
    fs = tmp_path / "cgroupfs"
    scope = _scope(tmp_path, cgroupfs=str(fs))
    ours = Containers(tmp_path / "run" / "t0" / "vmvc-root" / "containers").cgroup_prefix()
    (tmp_path / "run" / "t0" / "vmvc-root" / "containers").mkdir(parents=True)
    parents = {"v2": [""], "v1": ["memory", "pids", "cpu,cpuacct"], "hybrid": ["memory", "unified"]}[layout]
    for parent in parents:
        (fs / parent / "system.slice" / "x.service").mkdir(parents=True)
    assert leaks.cgroups(scope) == set()
    made = set()
    for parent in parents:
        for name in (f"{ours}abc", f"{ours}stem-1"):
            (fs / parent / name).mkdir()
            made.add(str(fs / parent / name))
    # another checkout's root and the default root: their cgroups are theirs, not this run's
    for other in ("/var/lib/vmvc/containers", str(tmp_path / "elsewhere" / "containers")):
        (fs / parents[0] / f"{leaks.cgroup_tag(other)}abc").mkdir()
    (fs / parents[0] / "vmvc-test-not-a-root").mkdir()
    assert leaks.cgroups(scope) == made


@pytest.mark.root
def test_a_mount_outside_the_runs_dirs_is_not_the_runs_and_one_inside_is(tmp_path, mount_ns):
    scope = _scope(tmp_path)
    outside, inside = tmp_path / "unrelated-xyz", tmp_path / "run" / "t0" / "mnt"
    outside.mkdir()
    inside.mkdir(parents=True)
    before = leaks.snapshot(scope)
    mount_ns("mount", "-t", "tmpfs", "other", str(outside))  # another process's mount under /tmp
    assert leaks.diff(before, leaks.snapshot(scope)) == []
    mount_ns("mount", "-t", "tmpfs", "ours", str(inside))
    mount_ns("mount", "-t", "tmpfs", "ours-again", str(inside))  # stacked: counted twice
    after = leaks.snapshot(scope)
    assert after["mounts"][f"{inside} tmpfs"] == 2
    assert leaks.diff(before, after) == [f"mounts left behind: ['{inside} tmpfs']"]


@pytest.fixture
def mount_ns():
    """``mount_ns(cmd...)`` runs a mount command in another process; everything is unmounted afterwards."""
    made = []

    def run(*cmd):
        subprocess.run(cmd, check=True, timeout=30)
        made.append(cmd[-1])

    yield run
    for target in reversed(made):
        subprocess.run(["umount", target], check=False, timeout=30)


def _detached(*argv) -> int:
    """Start ``argv`` re-parented to init (not our descendant, like a spawner after a double fork)."""
    out = subprocess.run(["sh", "-c", 'exec "$@" >/dev/null 2>&1 & echo $!', "sh", *argv],
                         capture_output=True, text=True, check=True, timeout=30)
    return int(out.stdout)


def test_processes_of_the_run_and_only_those(tmp_path):
    scope = _scope(tmp_path)
    before = leaks.snapshot(scope)
    pids, child = [], None
    try:
        pids.append(_detached("sleep", "300"))  # someone else's: not ours
        assert leaks.diff(before, leaks.snapshot(scope)) == []
        pids.append(_detached("sh", "-c", "sleep 301", f"{scope.paths[0]}/t0/containers"))  # names our root
        child = subprocess.Popen(["sleep", "302"])  # our descendant
        pids.append(child.pid)
        found = leaks.processes(scope)
        assert pids[0] not in found and set(pids[1:]) <= set(found)
        assert set(found) - set(before["processes"]) >= {pids[1], child.pid}
        # and the sleep below the detached shell, via its parent
        assert any("sleep 301" in line for line in found.values())
        sibling = leaks.Scope.of(scope.paths[0] + "0", tmp=scope.tmp)  # .../run0 is not .../run
        assert pids[1] not in leaks.processes(sibling)
    finally:
        for pid in pids:
            for p in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
                p.kill()
        if child:
            child.wait(timeout=10)


def test_temp_dirs_count_only_in_the_runs_tmp(tmp_path):
    scope = _scope(tmp_path)
    before = leaks.snapshot(scope)
    (tmp_path / "vmvc-not-in-the-runs-tmp").mkdir()
    assert leaks.diff(before, leaks.snapshot(scope)) == []
    (tmp_path / "run" / "tmp" / "vmvc-ours").mkdir()
    assert leaks.diff(before, leaks.snapshot(scope)) == [
        f"tmp left behind: ['{tmp_path}/run/tmp/vmvc-ours']"
    ]


def test_an_fd_left_open_is_a_leak(tmp_path):
    scope = _scope(tmp_path)
    before = leaks.snapshot(scope)
    fd = os.open(str(tmp_path), os.O_RDONLY)
    try:
        with pytest.raises(AssertionError, match="fds grew"):
            leaks.assert_no_leaks(before, settle=0.1)
    finally:
        os.close(fd)
    leaks.assert_no_leaks(before, settle=0.1)


def test_the_run_has_its_own_tmpdir_and_state_root(run_scope):
    import tempfile

    assert run_scope.owns(tempfile.gettempdir()) and run_scope.owns(os.environ["VMVC_ROOT"])
    assert tempfile.gettempdir() == run_scope.tmp


@pytest.mark.root
@pytest.mark.namespaces
@pytest.mark.overlay
@pytest.mark.cgroups
@pytest.mark.busybox
def test_leftover_spawner(pytester, monkeypatch):
    """A test that forgets ``shutdown`` must not leave a spawner of the run behind the run."""
    from pathlib import Path

    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makepyfile(test_forgets='''
import os
from runtime.containers import Engine, Spec

def test_runs_and_forgets():
    eng = Engine()  # the run's own $VMVC_ROOT
    assert eng.run(Spec("busybox", ["true"], auto_remove=True)).exit_code == 0
    with open(os.path.join(os.environ["PYTEST_VMVC_PROBE"], "root"), "w") as f:
        f.write(eng.table.root)
''')
    monkeypatch.setenv("PYTEST_VMVC_PROBE", str(pytester.path))
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:hypothesispytest")
    assert result.parseoutcomes() == {"passed": 1}
    root = (pytester.path / "root").read_text()
    assert root.startswith(str(pytester.path))  # inside the inner run's temp dir, never /var/lib/vmvc
    assert leaks.spawner_roots(leaks.Scope.of(root)) == set()
