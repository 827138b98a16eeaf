"""Which ids root in a rootless spawner's user namespace maps to, and writing those maps.

Root inside is always the user. A user with a subordinate range in ``/etc/subuid`` and
``/etc/subgid`` (``useradd`` gives new users one; ``usermod --add-subuids`` adds one) also gets ids
1..N mapped onto that range, so an image's files owned by other users (``nobody``, a service
account) keep distinct owners and ``-u 1000`` works. Only the setuid helpers ``newuidmap`` and
``newgidmap`` (Debian's ``uidmap`` package) may write such a map: they check the range is the
user's. Without a range or without the helpers, the user maps its own id alone (a process may
always map itself; its group map needs ``setgroups`` denied first): everything still runs as root
inside, files owned by other ids show as the overflow id (``nobody``), still readable as their
modes allow, and ``setgroups`` is refused.
"""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
from dataclasses import dataclass

HELPER_DIRS = ("/usr/bin", "/bin", "/usr/local/bin", "/usr/sbin", "/sbin")


@dataclass(frozen=True)
class Plan:
    """What to map for one user: its ids, its subordinate ranges (or None), the helpers found."""

    uid: int
    gid: int
    user: str
    subuid: tuple[int, int] | None  # (first host id, count)
    subgid: tuple[int, int] | None
    newuidmap: str | None
    newgidmap: str | None

    @property
    def full(self) -> bool:
        """Both ranges and both helpers: ids beyond 0 are mapped."""
        return bool(self.subuid and self.subgid and self.newuidmap and self.newgidmap)

    def describe(self) -> str:
        if self.full:
            return (f"uid 0 -> {self.uid}, 1..{self.subuid[1]} -> {self.subuid[0]}.. (/etc/subuid); "
                    f"gid 0 -> {self.gid}, 1..{self.subgid[1]} -> {self.subgid[0]}..")
        return f"only uid 0 -> {self.uid} and gid 0 -> {self.gid}: {self.why_single()}"

    def why_single(self) -> str:
        if not (self.subuid and self.subgid):
            return (f"no subordinate ids for {self.user} in /etc/subuid and /etc/subgid (files of other "
                    f"owners show as nobody; usermod --add-subuids 100000-165535 --add-subgids "
                    f"100000-165535 {self.user})")
        return "newuidmap/newgidmap missing or not setuid root (apt-get install uidmap)"


def ranges(path: str, user: str, uid: int) -> tuple[int, int] | None:
    """The first ``name:start:count`` (or ``uid:start:count``) line of ``path`` for this user."""
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.strip().split(":")
        if len(parts) == 3 and parts[0] in (user, str(uid)) and parts[1].isdigit() and parts[2].isdigit():
            if int(parts[2]) > 0:
                return int(parts[1]), int(parts[2])
    return None


def setuid_helper(name: str) -> str | None:
    """Path of ``name`` if it is owned by root and setuid (or carries file capabilities)."""
    for d in HELPER_DIRS:
        path = os.path.join(d, name)
        try:
            st = os.stat(path)
        except OSError:
            continue
        if st.st_uid == 0 and st.st_mode & stat.S_ISUID:
            return path
        try:
            os.getxattr(path, "security.capability")
            return path
        except OSError:
            pass
    return None


def plan(uid: int | None = None, gid: int | None = None, root: str = "/") -> Plan:
    uid = os.getuid() if uid is None else uid
    gid = os.getgid() if gid is None else gid
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    etc = os.path.join(root, "etc")
    return Plan(uid, gid, user, ranges(os.path.join(etc, "subuid"), user, uid),
                ranges(os.path.join(etc, "subgid"), user, uid),
                setuid_helper("newuidmap"), setuid_helper("newgidmap"))


def _run(argv: list[str]) -> str | None:
    """None if the helper wrote the map, else why not (one line)."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)
    if done.returncode == 0:
        return None
    return (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def apply(pid: int, p: Plan) -> list[str]:
    """Write ``pid``'s uid and gid maps (it has just unshared its user namespace); returns notes on
    what fell back to a single mapping. Raises OSError if even that fails."""
    notes = []
    if p.full:
        why = _run([p.newuidmap, str(pid), "0", str(p.uid), "1", "1", str(p.subuid[0]), str(p.subuid[1])])
        if why is None:
            why = _run([p.newgidmap, str(pid), "0", str(p.gid), "1", "1", str(p.subgid[0]),
                        str(p.subgid[1])])
            if why is None:
                return notes
            notes.append(f"newgidmap failed ({why}): only gid 0 is mapped")
            _write(f"/proc/{pid}/setgroups", "deny")
            _write(f"/proc/{pid}/gid_map", f"0 {p.gid} 1\n")
            return notes
        notes.append(f"newuidmap failed ({why}): only uid 0 is mapped")
    else:
        notes.append(p.describe())
    _write(f"/proc/{pid}/uid_map", f"0 {p.uid} 1\n")
    _write(f"/proc/{pid}/setgroups", "deny")
    _write(f"/proc/{pid}/gid_map", f"0 {p.gid} 1\n")
    return notes
