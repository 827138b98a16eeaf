"""The docs site: builds strictly, its evidence page matches the recorded results, and every command of
the lecture guide runs as written, in order."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def test_mkdocs_builds_strictly(tmp_path):
    site = tmp_path / "site"
    r = subprocess.run([os.path.join(BIN, "mkdocs"), "build", "--strict", "--site-dir", str(site)], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (site / "index.html").exists() and (site / "evidence" / "index.html").exists()


def test_the_evidence_page_is_generated_from_the_recorded_results():
    from benchmarks.evidence import page

    with open(os.path.join(ROOT, "docs", "evidence.md")) as f:
        assert f.read() == page(), "regenerate: python -m benchmarks.evidence > docs/evidence.md"


def lecture_blocks() -> list[str]:
    with open(os.path.join(ROOT, "docs", "lecture.md")) as f:
        return re.findall(r"```sh\n(.*?)```", f.read(), re.S)


@pytest.mark.slow
@pytest.mark.root
@pytest.mark.namespaces
@pytest.mark.overlay
@pytest.mark.cgroups
@pytest.mark.qemu
@pytest.mark.kvm
@pytest.mark.registry
@pytest.mark.docker_cli
def test_every_lecture_command_runs_as_written(tmp_path):
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "VMVC_ROOT": str(tmp_path / "state")}
    env.pop("VMVC_DAEMON_CONFIG", None)
    blocks = lecture_blocks()
    assert len(blocks) == 6
    # As written, but in this test's own places: the lecture's /tmp files and its registry port would
    # otherwise be shared with every other checkout's run on the host (and left behind).
    text = "\n".join(blocks)
    assert "/tmp/vmvc-lecture" in text and "--port 5055" in text and "127.0.0.1:5055" in text
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    blocks = [b.replace("/tmp/vmvc-lecture", str(tmp_path / "vmvc-lecture")).replace("5055", str(port))
              for b in blocks]
    try:
        for block in blocks:
            r = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=600)
            assert r.returncode == 0, f"{block}\n--- out\n{r.stdout[-1500:]}\n--- err\n{r.stderr[-1500:]}"
            if "hello-world" in block and "DOCKER_HOST" in block:
                assert "Hello from vmvc!" in r.stdout and "POST" in r.stderr
    finally:
        subprocess.run([os.path.join(BIN, "vmvc"), "system", "stop"], env=env, capture_output=True,
                       timeout=60)


@pytest.mark.slow
def test_screenshots_of_a_notebook_and_the_docs_home(tmp_path):
    """A notebook's HTML export and the docs home page render in headless Chromium (screenshots kept)."""
    import shutil

    from nbconvert import HTMLExporter

    from tests.notebooks.runner import execute

    chromium = shutil.which("chromium")
    assert chromium, "chromium is needed (scripts/setup.sh installs it)"
    nb = execute("03-why-containers-start-faster.ipynb", "recorded", tmp_path)  # in a fresh Python
    page, _ = HTMLExporter().from_notebook_node(nb)
    (tmp_path / "nb.html").write_text(page)
    site = tmp_path / "site"
    subprocess.run([os.path.join(BIN, "mkdocs"), "build", "--site-dir", str(site)], cwd=ROOT, check=True,
                   capture_output=True, timeout=300)
    shots = ((tmp_path / "nb.html", tmp_path / "notebook.png"), (site / "index.html", tmp_path / "docs.png"))
    for html, png in shots:
        r = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1200,900",
                            f"--screenshot={png}", f"file://{html}"], capture_output=True, timeout=120)
        assert r.returncode == 0 and png.stat().st_size > 10_000, r.stderr[-500:]


def test_the_quick_start_page_commands_run_as_written(tmp_path):
    """docs/quickstart.md: its first block is the README's (run by tests/test_readme_tour.py); the
    commands of its second block, which need no root, run here as written."""
    with open(os.path.join(ROOT, "docs", "quickstart.md")) as f:
        blocks = re.findall(r"```sh\n(.*?)```", f.read(), re.S)
    assert blocks[0].split("#")[0].strip().startswith("bash scripts/setup.sh && .venv/bin/vmvc bench --quick")
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "VMVC_ROOT": str(tmp_path / "state")}
    for line in blocks[1].splitlines():
        cmd = line.split("  #")[0].strip()
        if not cmd:
            continue
        r = subprocess.run(["bash", "-c", cmd.replace("/tmp/recorded-report", str(tmp_path / "report"))],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, f"{cmd}: {r.stderr[-1500:]}"
    assert (tmp_path / "report" / "report.html").exists()
