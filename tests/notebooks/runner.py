"""A notebook run top to bottom in a fresh Python, as a student's Jupyter runs it.

Nothing of the long pytest process (hundreds of tests' threads, event loops, signal handlers, sockets)
is shared with the kernel client. Execution is headless, so cells tagged ``skip-execution`` (nbclient's
default ``skip_cells_with_tag``) are skipped: notebook 3's ipywidgets ``interact`` cell carries it. Run
without a frontend, that cell sometimes never finished (jupyter/nbclient#312): three whole-suite runs
here waited out 600 s on an idle kernel, the last one in a fresh Python too.
"""

from __future__ import annotations

import os
import subprocess
import sys

import nbformat

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NB_DIR = os.path.join(ROOT, "notebooks")

RUNNER = """import sys, nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
nb = nbformat.read(sys.argv[1], as_version=4)
try:
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": sys.argv[3]}}).execute()
except CellExecutionError as e:
    sys.stderr.write(str(e)); sys.exit(3)
nbformat.write(nb, sys.argv[2])
"""


def execute(path: str, mode: str, tmp_path, edit=None):
    """``notebooks/PATH`` (after ``edit(nb)``, if given) executed in ``VMVC_NOTEBOOK_MODE=mode`` with a
    state root of its own in ``tmp_path``; the executed notebook. A failing cell raises nbclient's
    ``CellExecutionError``; a real-mode run stops its engine after."""
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(os.path.join(NB_DIR, path), as_version=4)
    if edit:
        edit(nb)
    given, done = str(tmp_path / "given.ipynb"), str(tmp_path / "done.ipynb")
    nbformat.write(nb, given)
    env = {**os.environ, "VMVC_NOTEBOOK_MODE": mode, "VMVC_ROOT": str(tmp_path / "state")}
    try:
        r = subprocess.run([sys.executable, "-c", RUNNER, given, done, str(tmp_path)], env=env,
                           capture_output=True, text=True, timeout=1500)
    finally:
        if mode == "real":
            subprocess.run([os.path.join(os.path.dirname(sys.executable), "vmvc"), "system", "stop"],
                           env=env, capture_output=True, timeout=60)
    if r.returncode == 3:
        raise CellExecutionError(r.stderr[-4000:], "", "")
    assert r.returncode == 0, r.stderr[-3000:]
    return nbformat.read(done, as_version=4)
