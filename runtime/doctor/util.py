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


def in_child(fn, *args):
    """``fn(*args)`` in a forked child (a probe that unshares, mounts or drops privileges must not
    do it to the caller); returns what it returned (JSON-able) or, if it raised, ``"Type: message"``.
    Fork before any thread exists: forking a threaded process is unsafe."""
    import json

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(r)
            try:
                out = fn(*args)
            except BaseException as e:
                out = f"{type(e).__name__}: {e}"[:300]
            os.write(w, json.dumps(out).encode())
        except BaseException:
            code = 1
        os._exit(code)
    os.close(w)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    try:
        return json.loads(data)
    except ValueError:
        return "the probe child died"


def map_self_to_root(uid: int, gid: int) -> None:
    """In a user namespace just made: be root in it and ``uid``/``gid`` outside (setgroups denied
    first, as the kernel requires before an unprivileged process writes its gid_map). The ids must
    be read before the unshare: inside an unmapped namespace ``geteuid()`` is already the overflow id."""
    for name, text in (("uid_map", f"0 {uid} 1"), ("setgroups", "deny"), ("gid_map", f"0 {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)
