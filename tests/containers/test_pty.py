"""``-it``: the container gets a real terminal (its own devpts), driven here through a pty."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import sys
import termios
import time

from tests.containers.conftest import REAL

pytestmark = REAL


def _expect(fd, want: bytes, timeout=20.0) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while want not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"did not see {want!r} in {seen!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    assert want in seen, seen
    return seen


def _spawn(args, rows=33, cols=101):
    """``vmvc ARGS`` on a new terminal of ``rows`` x ``cols`` (set while the child is still starting)."""
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execv(sys.executable, [sys.executable, "-m", "runtime.cli.main", *args])
        finally:
            os._exit(127)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    return pid, fd


def _exit_code(pid: int, timeout: float = 30.0) -> int:
    """The exit code of ``pid``, waiting at most ``timeout`` (then it is killed and the test fails)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    raise AssertionError(f"vmvc did not exit within {timeout} s")


def test_run_it_gives_a_shell_on_a_terminal(engine):
    pid, fd = _spawn(["run", "-it", "--rm", "busybox", "sh"])
    try:
        _expect(fd, b"# ")
        os.write(fd, b"tty; echo $((6*7)); echo size=$(stty size)\r")
        out = _expect(fd, b"size=33 101")  # the terminal's size reached the container's pty
        assert b"/dev/pts/0" in out and b"42" in out
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # a resize follows
        os.write(fd, b"sleep 0.5; echo size=$(stty size)\r")
        _expect(fd, b"size=40 120")
        os.write(fd, b"exit 5\r")
        assert _exit_code(pid) == 5
    finally:
        os.close(fd)
    assert engine.list(all=True) == []


def test_exec_it(engine):
    from runtime.containers import Spec

    cid = engine.create(Spec("busybox", ["sleep", "60"]))
    engine.start(cid)
    pid, fd = _spawn(["exec", "-it", cid, "sh"])
    try:
        _expect(fd, b"# ")
        os.write(fd, b"echo pid1=$(tr '\\0' ' ' < /proc/1/cmdline); tty\r")
        out = _expect(fd, b"/dev/pts/")
        assert b"pid1=sleep 60" in out  # the exec shares the container's PID namespace
        os.write(fd, b"exit\r")
        assert _exit_code(pid) == 0
    finally:
        os.close(fd)
    engine.remove(cid, force=True)
