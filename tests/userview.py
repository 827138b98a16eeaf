"""Another user's reachable view of this checkout, for tests that run vmvc as that user.

A user runs the checkout's own launcher (``.venv/bin/vmvc``), as anyone runs vmvc from a checkout and a
venv they can read. Their paths are absolute (the launcher's ``#!`` and ``sys.path``, the editable
install's ``.pth``, the ``sys.executable`` the CLI starts its keeper and spawner with), and CI clones
wherever it likes, often below a directory other users may not enter (``/root`` is 0700). Then the
user gets a *view* (:class:`View`): its command runs in a private mount namespace in which a tmpfs
covers that directory and holds, at the very same paths, read-only binds of exactly what vmvc reads
(the checkout, the venv, the interpreter's installation). Nothing on the host changes mode, the mounts
vanish with the last process in the namespace, and a user that can reach the checkout runs it as it is.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass

# In a fresh mount namespace (root's, before setpriv): for each directory the user cannot enter, a
# tmpfs made at the staging mount point $1, the needed paths bound read-only into it at their place
# below that directory, and the tmpfs moved over it. Arguments: stage, then "cover DIR" or
# "bind SRC REL" steps, then "--" and the command.
VIEW_SCRIPT = r"""set -e
umask 022  # the directories made on the tmpfs lead to the binds: the user must enter them
stage=$1; shift
while [ "$1" != -- ]; do
  case $1 in
    cover) mount -t tmpfs -o mode=0755,size=1m vmvc-rootless-view "$stage"; shift ;;
    bind) mkdir -p "$stage/$3"; mount --bind "$2" "$stage/$3"
          mount -o remount,bind,ro "$stage/$3"; shift 3 ;;
    move) mount --move "$stage" "$2"; shift 2 ;;
  esac
done
shift
exec "$@"
"""


def _needed() -> list[str]:
    """What the user's vmvc reads: the checkout (``runtime``, usually the venv too), the venv, and the
    installation of the interpreter the venv points to; none below another."""
    import runtime

    checkout = os.path.dirname(os.path.dirname(os.path.abspath(runtime.__file__)))
    paths = sorted({os.path.realpath(p) for p in (checkout, sys.prefix, sys.base_prefix)})
    return [p for p in paths if not any(p.startswith(q.rstrip("/") + "/") for q in paths if q != p)]


@dataclass
class View:
    """The user's reachable view of :func:`_needed`: ``covers`` maps each topmost directory it may
    not enter to the needed paths below it; empty when it reaches them all (no namespace then)."""

    stage: str
    covers: dict[str, list[str]]

    @classmethod
    def for_user(cls, uid: int, gid: int, stage: str) -> View:
        needed = _needed()
        chains = {p: [os.path.join("/", *p.split("/")[1:i]) for i in range(2, p.count("/") + 2)]
                  for p in needed}
        dirs = sorted({d for chain in chains.values() for d in chain})
        probe = subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "sh", "-c",
                                'for d; do [ -x "$d" ] || echo "$d"; done', "sh", *dirs],
                               capture_output=True, text=True, check=True, cwd="/")
        closed = set(probe.stdout.splitlines())
        covers: dict[str, list[str]] = {}
        for p, chain in chains.items():
            blocked = next((d for d in chain if d in closed), None)
            if blocked is not None:
                covers.setdefault(blocked, []).append(p)
        return cls(stage, covers)

    def wrap(self, argv: list[str]) -> list[str]:
        if not self.covers:
            return argv
        steps = []
        for top, paths in self.covers.items():
            steps.append("cover")
            for p in paths:
                steps += ["bind", p, os.path.relpath(p, top)]
            steps += ["move", top]
        return ["unshare", "-m", "--propagation", "private", "sh", "-c", VIEW_SCRIPT, "sh", self.stage,
                *steps, "--", *argv]


@contextlib.contextmanager
def as_user(user: str, argv: list[str]):
    """``argv`` run as ``user`` (``runuser``, its ids and groups), in its view of the checkout."""
    entry = pwd.getpwnam(user)
    stage = tempfile.mkdtemp(prefix="vmvc-view-")
    try:
        view = View.for_user(entry.pw_uid, entry.pw_gid, stage)
        yield view.wrap(["runuser", "-u", user, "--", *argv])
    finally:
        shutil.rmtree(stage, ignore_errors=True)
