"""Where vmvc keeps its state on disk, and who may look inside.

``$VMVC_ROOT`` overrides everything (tests point it at a temp dir). Otherwise root uses
``/var/lib/vmvc`` like Docker's ``/var/lib/docker``; other users get ``~/.local/share/vmvc``.
Each subsystem owns one subdirectory: ``images/``, ``containers/``, ``kernels/``.

Permissions are Docker's: the state root is 0710 and every subsystem directory 0700, so no other
host user can reach a container's upper dir or an image's layers (a setuid-root file a container
leaves, or an image ships, would otherwise run as root for anyone), nor read records and logs that
hold containers' environment secrets. Inside, what a container sees keeps its own modes: an image's
0777 directory stays 0777, but only root can get to it. Overlay mounts and bind mounts are made by
root, so nothing the engine does needs more. Directories made here get these modes at birth;
:func:`secure` fixes a root made by an older version (run once per spawner start, by recovery).

Plain strings and ``os.path``, not pathlib: ``vmvc run`` imports this on every start, and pathlib
alone costs it ~3 ms.
"""

from __future__ import annotations

import os
import stat

ROOT_MODE = 0o710  # like /var/lib/docker (its group is root's: nobody else gets through)
PRIVATE = 0o700


def state_root() -> str:
    env = os.environ.get("VMVC_ROOT")
    if env:
        return os.path.abspath(env)
    if os.geteuid() == 0:
        return "/var/lib/vmvc"
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data, "vmvc")


def subdir(name: str) -> str:
    """``state_root()/name``, created on first use (0700; a new state root 0710)."""
    root = state_root()
    path = os.path.join(root, name)
    try:
        os.mkdir(path, PRIVATE)  # the common case is one failing mkdir: as cheap as a stat
    except FileExistsError:
        return path
    except FileNotFoundError:
        make_root(root)
        try:
            os.mkdir(path, PRIVATE)
        except FileExistsError:
            return path
    os.chmod(path, PRIVATE)  # not the umask's idea
    return path


def make_root(root: str) -> None:
    """Create a state root (and its parents, with ordinary modes); the root itself gets ROOT_MODE."""
    try:
        os.makedirs(root)
    except FileExistsError:
        return
    os.chmod(root, ROOT_MODE)


def secure(root: str | None = None) -> list[str]:
    """Give an existing state root Docker's modes; returns the paths it changed.

    Subsystem directories are vmvc's own and always become 0700. The root itself becomes 0710 unless
    it is not vmvc's to change: owned by someone else, sticky (``/tmp``) or the home directory
    (``VMVC_ROOT`` can point anywhere)."""
    root = root or state_root()
    changed = []
    try:
        st = os.stat(root)
    except FileNotFoundError:
        return changed
    ours = (st.st_uid == os.geteuid() and not st.st_mode & stat.S_ISVTX
            and os.path.realpath(root) != os.path.realpath(os.path.expanduser("~")))
    if ours and stat.S_IMODE(st.st_mode) & 0o067:
        os.chmod(root, (st.st_mode & 0o700) | (ROOT_MODE & 0o070))
        changed.append(root)
    for name in ("containers", "images", "kernels", "osimages"):
        path = os.path.join(root, name)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) & 0o077:
            os.chmod(path, PRIVATE)
            changed.append(path)
    return changed
