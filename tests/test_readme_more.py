"""The README's "Client–server, registries, builds" block, run as written in an empty directory."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BIN = str(Path(sys.executable).parent)
pytestmark = [pytest.mark.root, pytest.mark.namespaces, pytest.mark.overlay, pytest.mark.cgroups,
              pytest.mark.registry, pytest.mark.docker_cli, pytest.mark.slow]


def block() -> str:
    text = (REPO / "README.md").read_text()
    start = text.index("## Client–server, registries, builds")
    return re.search(r"```sh\n(.*?)```", text[start:], re.S).group(1)


def test_the_block_runs_as_written(tmp_path):
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "VMVC_ROOT": str(tmp_path / "state")}
    env.pop("VMVC_DAEMON_CONFIG", None)
    work = tmp_path / "work"
    work.mkdir()
    try:
        r = subprocess.run(["bash", "-euo", "pipefail", "-c", block()], cwd=work, env=env,
                           capture_output=True, text=True, timeout=600)
        out = r.stdout + r.stderr
        assert r.returncode == 0, out[-3000:]
        for want in ("Digest: sha256:", "for busybox:latest", "Hello from vmvc!",
                     "Unable to find image 'hello-world:latest' locally", "built here", "POST", "sha256:",
                     "via the API"):
            assert want in out, f"missing {want!r}:\n{out[-3000:]}"
    finally:
        subprocess.run([os.path.join(BIN, "vmvc"), "system", "stop"], env=env, capture_output=True,
                       timeout=60)
