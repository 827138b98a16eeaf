"""The ``-S`` launcher (runtime.cli.launcher): every command still works; ``run`` never loads ``site``."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.containers.conftest import REAL


def _launcher(tmp_path) -> str:
    from runtime.cli.launcher import install

    return install(str(tmp_path / "vmvc"))


def _call(path, *args):
    return subprocess.run([path, *args], capture_output=True, text=True, timeout=60, env=os.environ.copy())


def test_written_launcher_starts_python_without_site(tmp_path):
    path = _launcher(tmp_path)
    with open(path) as f:
        assert f.readline() == f"#!{sys.executable} -S\n"
    assert os.access(path, os.X_OK)
    r = _call(path, "version")
    assert r.returncode == 0, r.stderr


def test_an_import_that_needs_site_packages_turns_site_on():
    import runtime

    root = os.path.dirname(os.path.dirname(runtime.__file__))
    code = (
        f"import sys; sys.path.insert(0, {root!r}); from runtime.cli.launcher import LazySite; "
        "sys.meta_path.append(LazySite); import runtime.containers.wire; "
        "before = 'site' in sys.modules; import rich; print(before, 'site' in sys.modules)"
    )
    r = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.split() == ["False", "True"], r.stderr


def _real(test):
    for mark in REAL:
        test = mark(test)
    return test


@_real
def test_run_and_plugin_commands_through_the_launcher(engine, tmp_path):
    path = _launcher(tmp_path)
    r = _call(path, "run", "--rm", "busybox", "sh", "-c", "echo hi; exit 3")
    assert (r.returncode, r.stdout) == (3, "hi\n"), r.stderr
    assert engine.list(all=True) == []
    r = _call(path, "ps", "-a")  # rich: found once site is on
    assert r.returncode == 0 and "CONTAINER ID" in r.stdout, r.stderr
    r = _call(path, "sim", "--help")  # an entry-point plugin: site at once
    assert r.returncode == 0, r.stderr


@_real
def test_console_entry_exits_with_the_commands_code_and_output(engine, tmp_path):
    from runtime.cli.launcher import console_script, install

    path = install(str(tmp_path / "vmvc-console"), text=console_script(sys.executable))
    r = _call(path, "run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 4")
    assert (r.returncode, r.stdout, r.stderr) == (4, "out\n", "err\n")
    r = _call(path, "nosuch")
    assert r.returncode == 2 and "not a vmvc command" in r.stderr
