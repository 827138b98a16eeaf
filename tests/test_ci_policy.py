"""The suite's own policy: capability markers skip with evidence; under CI=true nothing passes quietly.

Quietly means: a skip in a test body or fixture, a skip at collection (``importorskip``, a module-level
``skip``), a non-strict ``xfail``, or a test that ``return``s early instead of testing. Each is checked
here on a sample run through pytester, with this suite's own conftest.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
CONFTEST = (TESTS / "conftest.py").read_text()
ROOT = TESTS.parent

SAMPLE = '''
import pytest

def test_body_skip():
    pytest.skip("no reason that CI accepts")

@pytest.mark.kvm_hw
def test_needs_hardware_virtualisation():
    pass

@pytest.mark.no_kvm_hw
def test_needs_a_host_without_it():
    pass

@pytest.mark.python_marker_unknown_to_us
def test_plain():
    pass
'''

INI = "[pytest]\nmarkers =\n  kvm_hw: x\n  no_kvm_hw: x\n  python_marker_unknown_to_us: x\n"


def _run(pytester, ci: bool, *files: tuple[str, str], ini: str = INI, subprocess: bool = False):
    """Run the sample with this suite's conftest; in-process (fast) unless ``subprocess``."""
    pytester.makeconftest(CONFTEST)
    pytester.makeini(ini)
    pytester.makepyfile(**dict(files))
    os.environ["CI"] = "true" if ci else "false"  # read as the conftest is imported; monkeypatch restores it
    run = pytester.runpytest_subprocess if subprocess else pytester.runpytest_inprocess
    return run("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-rA")  # hypothesis: 2 s a session


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("CI", "")
    return monkeypatch


def test_outside_ci_skips_stay_skips(pytester, env):
    outcomes = _run(pytester, False, ("test_sample", SAMPLE)).parseoutcomes()
    assert outcomes.get("failed", 0) == 0
    assert outcomes["skipped"] == 2  # the body skip, and one of kvm_hw / no_kvm_hw
    assert outcomes["passed"] == 2


def test_under_ci_a_quiet_skip_fails_but_hardware_virtualisation_may_go_either_way(pytester, env):
    result = _run(pytester, True, ("test_sample", SAMPLE))
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] == 1 and outcomes["skipped"] == 1 and outcomes["passed"] == 2
    result.stdout.fnmatch_lines(["*skipped under CI=true*no reason that CI accepts*"])
    from runtime.doctor import host

    if host().ready("kvm.hw"):
        result.stdout.fnmatch_lines(["*needs a host without kvm.hw*"])
    else:
        result.stdout.fnmatch_lines(["*needs kvm_hw: kvm.hw missing*"])


def test_a_skip_in_a_fixture_fails_under_ci(pytester, env):
    sample = '''
import pytest

@pytest.fixture
def thing():
    pytest.skip("fixture gave up")

def test_uses_it(thing):
    pass
'''
    result = _run(pytester, True, ("test_fixture", sample))
    assert result.parseoutcomes()["errors"] == 1  # a failed setup is an error
    result.stdout.fnmatch_lines(["*skipped under CI=true*fixture gave up*"])


@pytest.mark.parametrize(
    "body, reason",
    [
        ("import pytest\nnosuch = pytest.importorskip('vmvc_no_such_module')\n\ndef test_x():\n    pass\n",
         "vmvc_no_such_module"),
        ("import pytest\npytest.skip('whole file off', allow_module_level=True)\n\ndef test_x():\n    pass\n",
         "whole file off"),
    ],
    ids=["importorskip", "module-level-skip"],
)
def test_collection_time_skips_fail_under_ci_and_stay_skips_outside(pytester, env, body, reason):
    result = _run(pytester, True, ("test_collect", body))
    assert result.parseoutcomes()["errors"] == 1
    result.stdout.fnmatch_lines([f"*skipped at collection under CI=true*{reason}*"])
    assert result.ret != 0
    outside = _run(pytester, False, ("test_collect", body))
    assert outside.parseoutcomes()["skipped"] == 1 and outside.ret == 5  # nothing ran, nothing failed


XFAILS = '''
import pytest

@pytest.mark.xfail(reason="known bug, strict", strict=True)
def test_strict_and_failing():
    assert False

@pytest.mark.xfail(reason="known bug, not strict", strict=False)
def test_lenient_and_failing():
    assert False

@pytest.mark.xfail(reason="known bug, not strict, passes", strict=False)
def test_lenient_and_passing():
    pass

def test_imperative():
    pytest.xfail("gave up in the body")
'''


def test_non_strict_xfails_fail_under_ci(pytester, env):
    result = _run(pytester, True, ("test_xfail", XFAILS))
    outcomes = result.parseoutcomes()
    assert outcomes["xfailed"] == 1 and outcomes["failed"] == 3
    result.stdout.fnmatch_lines(["*non-strict xfail under CI=true*known bug, not strict*"])
    result.stdout.fnmatch_lines(["*non-strict xfail under CI=true*gave up in the body*"])
    outside = _run(pytester, False, ("test_xfail", XFAILS)).parseoutcomes()
    assert outside.get("failed", 0) == 0 and outside["xfailed"] == 3 and outside["xpassed"] == 1


def test_the_projects_ini_makes_xfail_strict_and_sets_a_timeout():
    import tomllib

    ini = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert ini["xfail_strict"] is True
    assert 0 < int(ini["timeout"]) <= 900


def test_the_timeout_guard_fails_a_test_that_hangs(pytester, env):
    sample = "import time\n\ndef test_hangs():\n    time.sleep(60)\n"
    result = _run(pytester, True, ("test_hang", sample), ini=INI + "timeout = 2\n", subprocess=True)
    assert result.parseoutcomes()["failed"] == 1
    result.stdout.fnmatch_lines(["*Timeout (>2.0s) from pytest-timeout*"])


def test_ci_run_sets_ci_itself():
    script = (ROOT / ".ci" / "run").read_text()
    lines = [line.strip() for line in script.splitlines() if not line.strip().startswith("#")]
    exported = lines.index("export CI=true")
    assert exported < next(i for i, line in enumerate(lines) if ".venv/bin/pytest" in line)


def _early_returns(path: Path, root: Path = ROOT) -> list[str]:
    """``return`` statements in test functions, other than as their last statement.

    Hypothesis properties (``@given``) are exempt: each example may end early by design (an input
    refused cleanly), and the property runs many of them."""
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for fn in ast.walk(tree):
        if not (isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef) and fn.name.startswith("test")):
            continue
        if any("given" in ast.unparse(d) for d in fn.decorator_list):
            continue
        nested = {id(n) for inner in ast.walk(fn) if inner is not fn
                  and isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
                  for n in ast.walk(inner)}
        for node in ast.walk(fn):
            if isinstance(node, ast.Return) and id(node) not in nested and node is not fn.body[-1]:
                found.append(f"{path.relative_to(root)}:{node.lineno} {fn.name}")
    return found


def test_no_test_passes_by_returning_early():
    """A test that returns before asserting passes without testing: skip with a marker's reason instead."""
    found = [hit for path in sorted(TESTS.rglob("test_*.py")) for hit in _early_returns(path)]
    assert found == [], "tests that return early (skip with a marker such as no_kvm_hw):\n" + "\n".join(found)


def test_the_early_return_check_sees_one(tmp_path):
    sample = tmp_path / "test_x.py"
    sample.write_text("def test_a(h):\n    if h:\n        return\n    assert h\n\n"
                      "def test_b():\n    def inner():\n        return 1\n    assert inner()\n\n"
                      "@given(st.integers())\ndef test_c(n):\n    if n:\n        return\n    assert not n\n")
    assert _early_returns(sample, root=tmp_path) == ["test_x.py:3 test_a"]


OTHER_PYTHON = ROOT / "scripts" / "other-python.sh"


def test_ci_runs_the_unit_tests_on_a_second_python_after_the_suite():
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
             if line.strip() and not line.strip().startswith("#")]
    suite = next(i for i, line in enumerate(lines) if ".venv/bin/pytest" in line)
    assert lines[suite + 1:] == ["bash scripts/other-python.sh"]


def test_the_second_python_runs_the_private_internals_fallbacks():
    """They are what a Python upgrade would break: none may carry a marker the second run leaves out."""
    import subprocess

    from tests import test_private_fallbacks as fallbacks

    left_out = set(subprocess.run(["bash", str(OTHER_PYTHON), "--markers"], capture_output=True, text=True,
                                  check=True, timeout=60).stdout.split())
    assert {"root", "kvm", "qemu", "network_tools", "slow"} <= left_out
    tests = [fn for name, fn in vars(fallbacks).items() if name.startswith("test_")]
    assert len(tests) >= 8
    marks = {m.name for fn in tests for m in getattr(fn, "pytestmark", [])}
    marks |= {m.name for m in getattr(fallbacks, "pytestmark", [])}
    assert not marks & left_out


@pytest.mark.parametrize("ci, code, words", [("true", 1, "CI needs one"), ("", 0, "skipped")])
def test_without_a_second_python_ci_fails_in_one_line(tmp_path, ci, code, words):
    """No pyenv, no python3.1N or pypy3 on PATH: red under CI, a note outside it."""
    import shutil
    import subprocess

    bin_ = tmp_path / "bin"
    bin_.mkdir()
    for tool in ("bash", "dirname", "ls", "sort", "cat", "sed"):
        (bin_ / tool).symlink_to(shutil.which(tool))
    env = {"PATH": str(bin_), "PYENV_ROOT": str(tmp_path / "no-pyenv"), "HOME": str(tmp_path), "CI": ci}
    r = subprocess.run([str(bin_ / "bash"), str(OTHER_PYTHON)], capture_output=True, text=True, env=env,
                       timeout=60)
    assert r.returncode == code and r.stdout == ""
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("other-python: no Python 3.11+")
    assert words in r.stderr
