"""Small helpers the probes share: reading host files under a root, running a tool briefly."""

from __future__ import annotations

import os
import shutil
import subprocess


def path(root: str, rel: str) -> str:
    return os.path.join(root, rel.lstrip("/"))


def read(root: str, rel: str, default: str = "") -> str:
    try:
        with open(path(root, rel), encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return default


def run(argv: list[str], timeout: float = 5.0) -> tuple[int, str]:
    """Run a tool, return (exit code, stdout+stderr). A missing or hung tool gives (-1, why)."""
    exe = shutil.which(argv[0])
    if exe is None:
        return -1, f"{argv[0]} not found on PATH"
    try:
        done = subprocess.run([exe, *argv[1:]], capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return -1, f"{argv[0]} did not answer in {timeout:.0f}s"
    except OSError as e:
        return -1, f"{argv[0]}: {e.strerror}"
    return done.returncode, (done.stdout + done.stderr).strip()
