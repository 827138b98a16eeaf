"""The classroom notebooks: each runs top to bottom in real and in recorded mode, the check cells pass
with the reference answers and fail with wrong ones, outputs are cleared in git, only public APIs."""

from __future__ import annotations

import ast
import os
import re

import nbformat
import pytest

from benchmarks import classroom
from tests.notebooks.runner import NB_DIR, execute

NOTEBOOKS = sorted(p for p in os.listdir(NB_DIR) if p.endswith(".ipynb"))
PUBLIC = {"benchmarks", "benchmarks.classroom", "sim", "runtime.containers", "runtime.images",
          "runtime.vm.pyvmm", "platform", "ipywidgets"}


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS)
def test_runs_in_recorded_mode(path, tmp_path):
    nb = execute(path, "recorded", tmp_path)
    text = "".join(str(o) for c in nb.cells for o in c.get("outputs", []))
    assert "Recorded mode" in text and "✓" in text


@pytest.mark.slow
@pytest.mark.root
@pytest.mark.namespaces
@pytest.mark.overlay
@pytest.mark.cgroups
@pytest.mark.kvm
@pytest.mark.parametrize("path", NOTEBOOKS)
def test_runs_in_real_mode(path, tmp_path):
    nb = execute(path, "real", tmp_path)
    text = "".join(str(o) for c in nb.cells for o in c.get("outputs", []))
    assert "Real mode" in text and "✓" in text


@pytest.mark.slow
def test_a_wrong_answer_fails_its_check_cell(tmp_path):
    from nbclient.exceptions import CellExecutionError

    def wrong(nb):
        for cell in nb.cells:
            if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
                cell.source = re.sub(r"ANSWER_(\d+) = .*", r"ANSWER_\1 = -12345", cell.source)

    with pytest.raises(CellExecutionError, match="AssertionError"):
        execute("04-measuring-real-starts.ipynb", "recorded", tmp_path, edit=wrong)


@pytest.mark.parametrize("name", sorted(classroom.EXERCISES))
def test_every_exercise_checks_right_and_wrong_answers(name):
    for seed in (0, 1, 42):
        ex = classroom.Exercise(name, seed=seed)
        assert ex.check(ex.answer())
        with pytest.raises(AssertionError):
            ex.check(ex.answer() * 2 + 7)
        with pytest.raises(AssertionError):
            ex.check("not a number")
    assert classroom.Exercise(name, seed=5).params == classroom.Exercise(name, seed=5).params  # seeded


@pytest.mark.parametrize("path", NOTEBOOKS)
def test_committed_clean_with_nbgrader_metadata_and_public_apis(path):
    nb = nbformat.read(os.path.join(NB_DIR, path), as_version=4)
    codes = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in codes)
    graded = [c for c in codes if c.metadata.get("nbgrader", {}).get("grade")]
    assert graded and all(c.metadata["nbgrader"]["locked"] for c in graded)
    for c in codes:
        for node in ast.walk(ast.parse(c.source)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) else []
            for n in names:
                assert n in PUBLIC or n.split(".")[0] in ("sim",), f"{path} imports {n}: not a public API"


def test_the_generator_writes_what_is_committed(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_notebooks", os.path.join(NB_DIR, "make_notebooks.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.HERE = str(tmp_path)
    mod.main()
    for path in NOTEBOOKS:
        fresh = nbformat.read(str(tmp_path / path), as_version=4)
        committed = nbformat.read(os.path.join(NB_DIR, path), as_version=4)
        assert [c.source for c in fresh.cells] == [c.source for c in committed.cells], path


def test_every_recorded_figure_a_notebook_prints_exists():
    """Recorded mode prints medians by (suite, method, metric): a name the results do not have printed
    'None' to the class (notebook 1 asked for a 'disk_shared' metric that was never recorded)."""
    with open(os.path.join(NB_DIR, "make_notebooks.py")) as f:
        source = f.read()
    asked = re.findall(r"median\('([^']+)', '([^']+)', '([^']+)'\)", source)
    assert len(asked) >= 4
    rec = classroom.recorded()
    missing = [key for key in asked if rec.median(*key) is None]
    assert not missing
