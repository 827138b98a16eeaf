"""The examples in the module docstrings are the documentation: they must run as written."""

import doctest
import importlib
import importlib.util
import pkgutil

import matplotlib
import pytest

import sim

matplotlib.use("Agg")

MODULES = sorted(m.name for m in pkgutil.walk_packages(sim.__path__, "sim."))


def _has_examples(name: str) -> bool:
    with open(importlib.util.find_spec(name).origin) as f:
        return ">>> " in f.read()


WITH_EXAMPLES = [name for name in ["sim", *MODULES] if _has_examples(name)]


def test_the_package_documents_itself_with_examples():
    assert "sim" in WITH_EXAMPLES and len(WITH_EXAMPLES) >= 2


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} shows examples that doctest never ran"
    assert result.failed == 0


def test_sim_never_imports_runtime_or_benchmarks():
    import subprocess
    import sys

    code = (
        "import sys, sim, sim.cli_commands, sim.calibrate, sim.validate, sim.sweep, sim.plots;"
        "sim.run('storm', profile='crun', n=2);"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('runtime', 'benchmarks')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr


def test_running_a_scenario_does_not_import_plotting_or_tables():
    """Plots and rich tables load only when drawn or printed (a notebook pays for what it uses)."""
    import subprocess
    import sys

    code = (
        "import sys, sim; sim.run('storm', profile='crun', n=2).summary();"
        "heavy = [m for m in ('matplotlib', 'rich', 'distributed') if m in sys.modules];"
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
