"""A throwaway user for rootless tests, and ``as_user``: vmvc run as that user, the way they would.

The user is made with ``useradd`` (home in a fresh ``/tmp`` dir only it may enter) and gets a
subordinate id range in ``/etc/subuid`` and ``/etc/subgid``; at the end its spawners are stopped,
nothing of its uid may still run, nothing may stay mounted under its home, and ``userdel`` plus a
check of both files leave the host as it was found.

The user runs the checkout's own launcher (``.venv/bin/vmvc``), as a rootless user runs vmvc from a
checkout and a venv it can read. Their paths are absolute (the launcher's ``#!`` and ``sys.path``, the
editable install's ``.pth``, the ``sys.executable`` the CLI starts its keeper and spawner with), and
CI clones wherever it likes, often below a directory other users may not enter (``/root`` is 0700).
Then the user gets a *view* (:class:`View`): each of its commands runs in a private mount namespace in
which a tmpfs covers that directory and holds, at the very same paths, read-only binds of exactly
what vmvc reads (the checkout, the venv, the interpreter's installation). Nothing on the host changes
mode, the mounts vanish with the last process in the namespace (the spawner's and keeper's, which
the CLI double-forks into it, see the same paths), and a user that can reach the checkout runs it
as it is.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import psutil
import pytest

from tests.userview import View

LAUNCHER = os.path.join(os.path.dirname(sys.executable), "vmvc")
SUBID_FILES = ("/etc/subuid", "/etc/subgid")
@dataclass
class User:
    name: str
    uid: int
    gid: int
    home: str
    view: View | None = None

    def argv(self, *args: str) -> list[str]:
        """``vmvc ARGS`` as this user: its ids only, no supplementary groups, in its view."""
        argv = ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups", LAUNCHER, *args]
        return self.view.wrap(argv) if self.view else argv

    @property
    def state_root(self) -> str:
        return os.path.join(self.home, ".local", "share", "vmvc")

    def env(self, **extra) -> dict:
        env = {"HOME": self.home, "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
               "TMPDIR": os.path.join(self.home, "tmp"), "USER": self.name}
        env.update(extra)
        return env

    def run(self, *args, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        """``vmvc ARGS`` as this user (:meth:`argv`), in its own environment."""
        return subprocess.run(self.argv(*args), capture_output=True, text=True, timeout=timeout,
                              env=env or self.env(), stdin=subprocess.DEVNULL, cwd=self.home)

    def processes(self) -> list[str]:
        found = []
        for p in psutil.process_iter(["uids", "cmdline", "status"]):
            mine = p.info["uids"] and p.info["uids"].real == self.uid
            if mine and p.info["status"] != psutil.STATUS_ZOMBIE:  # a zombie is its reaper's business
                found.append(f"{p.pid} {' '.join(p.info['cmdline'] or [])[:80]}")
        return found

    def mounts(self) -> list[str]:
        return [p.mountpoint for p in psutil.disk_partitions(all=True)
                if p.mountpoint.startswith(self.home + "/")]


def _subid_lines(name: str) -> dict[str, list[str]]:
    out = {}
    for path in SUBID_FILES:
        try:
            with open(path) as f:
                out[path] = [line for line in f.read().splitlines() if line.split(":")[0] == name]
        except FileNotFoundError:
            out[path] = []
    return out


def set_subid_lines(name: str, lines: dict[str, list[str]]) -> None:
    """Replace ``name``'s entries in /etc/subuid and /etc/subgid by ``lines`` (written directly:
    ``usermod`` refuses while the user has processes, and its spawner may still be running)."""
    for path in SUBID_FILES:
        with open(path) as f:
            keep = [x for x in f.read().splitlines() if x.split(":")[0] != name]
        with open(path, "w") as f:
            f.write("".join(x + "\n" for x in keep + lines.get(path, [])))


def _free_range() -> int:
    """A 65536-id range no entry of /etc/subuid or /etc/subgid overlaps."""
    taken = []
    for path in SUBID_FILES:
        try:
            with open(path) as f:
                for line in f:
                    parts = line.strip().split(":")
                    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                        taken.append((int(parts[1]), int(parts[1]) + int(parts[2])))
        except FileNotFoundError:
            pass
    start = 300000
    while any(a < start + 65536 and start < b for a, b in taken):
        start += 65536
    return start


@pytest.fixture(scope="module")
def user():
    name = f"vmvcrl{os.getpid() % 100000}"
    home = tempfile.mkdtemp(prefix="vmvc-rootless-", dir="/tmp")
    stage = tempfile.mkdtemp(prefix="vmvc-rootless-stage-")  # a mount point root alone uses
    subprocess.run(["useradd", "-M", "-d", home, "-s", "/bin/sh", "-K", "UID_MIN=20000", name],
                   check=True, capture_output=True)
    try:
        entry = pwd.getpwnam(name)
        u = User(name, entry.pw_uid, entry.pw_gid, home)
        os.mkdir(os.path.join(home, "tmp"))
        for d in (home, os.path.join(home, "tmp")):
            os.chown(d, u.uid, u.gid)
        u.view = View.for_user(u.uid, u.gid, stage)
        reach = u.run("--version")
        assert reach.returncode == 0, (
            f"the throwaway user cannot run {LAUNCHER}, even in a view covering {list(u.view.covers)} "
            f"({reach.stderr.strip()[-200:]}): the checkout's files and its Python must be readable by "
            "other users, as for any rootless user")
        if not all(_subid_lines(name).values()):  # useradd adds a range where login.defs says so
            first = _free_range()
            span = f"{first}-{first + 65535}"
            subprocess.run(["usermod", "--add-subuids", span, "--add-subgids", span, name], check=True,
                           capture_output=True)
        yield u
    finally:
        try:
            for root in (os.path.join(home, ".local", "share", "vmvc"), os.path.join(home, "single")):
                if os.path.isdir(root):
                    subprocess.run(u.argv("system", "stop"), env=u.env(VMVC_ROOT=root), capture_output=True,
                                   timeout=60, cwd="/")
            deadline = time.monotonic() + 10  # a hang guard: the keeper exits once its spawner is gone
            while u.processes() and time.monotonic() < deadline:
                time.sleep(0.05)
            left, mounted = u.processes(), u.mounts()
        finally:
            for pid in [int(p.split()[0]) for p in u.processes()]:
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass
            subprocess.run(["userdel", name], capture_output=True)
            if any(_subid_lines(name).values()):  # userdel removes them; make sure
                set_subid_lines(name, {})
            shutil.rmtree(home, ignore_errors=True)
            os.rmdir(stage)  # only ever a mount point inside the views' namespaces
    assert not left, f"processes of the rootless user left behind: {left}"
    assert not mounted, f"mounts left under its home: {mounted}"
    assert not any(_subid_lines(name).values())
