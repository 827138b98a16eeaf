"""Ctrl-C during a real ``vmvc bench``: a partial report is written, marked partial, and nothing is left
running (no QEMU, no container, no private dockerd) or mounted; checked by ``bench_env``'s leak check."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

pytestmark = [pytest.mark.root, pytest.mark.namespaces, pytest.mark.overlay, pytest.mark.cgroups,
              pytest.mark.busybox, pytest.mark.qemu, pytest.mark.dockerd, pytest.mark.docker_cli,
              pytest.mark.timeout(900)]

VMVC = os.path.join(os.path.dirname(sys.executable), "vmvc")


def running(name: str, mentions: str) -> bool:
    """A process whose name starts with ``name`` and whose command line mentions ``mentions``."""
    for p in psutil.process_iter(["name", "cmdline"]):
        if (p.info["name"] or "").startswith(name) and any(mentions in a for a in p.info["cmdline"] or []):
            return True
    return False


@pytest.mark.parametrize("stage, process", [("dockerd up", "dockerd"), ("QEMU booting", "qemu-system")])
def test_ctrl_c_writes_a_partial_report_and_leaves_nothing(report_fonts_loaded, bench_env, tmp_path, stage,
                                                           process):
    out = tmp_path / "report"
    proc = subprocess.Popen([VMVC, "bench", "--quick", "--suite", "startup", "--out", str(out)],
                            env=bench_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 600
        while not running(process, bench_env["TMPDIR"]):
            assert proc.poll() is None, f"vmvc bench ended before {stage}: {proc.stderr.read()}"
            assert time.monotonic() < deadline, f"never reached {stage}"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    assert proc.returncode == 130, err
    assert "PARTIAL report written to" in err
    data = json.loads((out / "results.json").read_text())
    assert data["partial"] is True and data["suites"]["startup"]["status"] == "interrupted"
    assert "PARTIAL REPORT" in (out / "report.html").read_text()
    assert (out / "report.md").exists() and (out / "results.csv").exists()
    assert not running(process, bench_env["TMPDIR"])
    assert not os.listdir(bench_env["TMPDIR"])
