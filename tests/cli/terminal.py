"""Running ``vmvc`` as a user does: the installed launcher, in a pipe or on a pseudo-terminal."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

LAUNCHER = str(Path(sys.executable).parent / "vmvc")  # what setup installs: the -S fast launcher


def vmvc(*args, input=None, timeout=120, user: str | None = None, env=None) -> subprocess.CompletedProcess:
    """``vmvc ARGS`` with stdout/stderr in pipes (stdin from ``input``, else /dev/null)."""
    import contextlib

    from tests.userview import as_user

    with as_user(user, [LAUNCHER, *args]) if user else contextlib.nullcontext([LAUNCHER, *args]) as argv:
        return subprocess.run(argv, capture_output=True, text=True, input=input, timeout=timeout,
                              stdin=None if input is not None else subprocess.DEVNULL, env=env)


def spawn_on_pty(*args) -> tuple[int, int]:
    """``vmvc ARGS`` on a new pty: (pid, master fd)."""
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execv(LAUNCHER, [LAUNCHER, *args])
        finally:
            os._exit(127)
    return pid, fd


def read_until_exit(pid: int, fd: int, timeout: float = 120, send: bytes = b"",
                    after: bytes = b"") -> tuple[int, bytes]:
    """Everything the pty shows until the process exits; (exit code, output). ``send`` is typed once
    the output shows ``after``."""
    seen = b""
    deadline = time.monotonic() + timeout  # a hang guard, not a timed assertion
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the child side closed
                chunk = b""
            if not chunk:
                break
            seen += chunk
            if send and after in seen:
                os.write(fd, send)
                send = b""
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), seen


def read_line_with(stream, text: str, timeout: float = 60) -> str:
    """Lines of a text pipe up to (and including) the first that contains ``text``."""
    seen = ""
    deadline = time.monotonic() + timeout  # a hang guard, not a timed assertion
    while text not in seen:
        assert time.monotonic() < deadline, f"did not see {text!r} in {seen!r}"
        ready, _, _ = select.select([stream], [], [], 1.0)
        if ready:
            line = stream.readline()
            assert line, f"stream ended before {text!r}: {seen!r}"
            seen += line
    return seen
