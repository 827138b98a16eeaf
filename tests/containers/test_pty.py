"""``-it``: the container gets a real terminal (its own devpts), driven here through a pty."""

from __future__ import annotations

import os
import pty
import select
import sys
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


def _spawn(args):
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execv(sys.executable, [sys.executable, "-m", "runtime.cli.main", *args])
        finally:
            os._exit(127)
    return pid, fd


def test_run_it_gives_a_shell_on_a_terminal(engine):
    pid, fd = _spawn(["run", "-it", "--rm", "busybox", "sh"])
    try:
        _expect(fd, b"# ")
        os.write(fd, b"tty; echo $((6*7)); stty size\r")
        out = _expect(fd, b"42")
        assert b"/dev/pts/0" in out
        os.write(fd, b"exit 5\r")
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 5
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
        os.write(fd, b"ps -o pid,args | grep -c sleep; tty\r")
        assert b"/dev/pts/" in _expect(fd, b"/dev/pts/")
        os.write(fd, b"exit\r")
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        os.close(fd)
    engine.remove(cid, force=True)
