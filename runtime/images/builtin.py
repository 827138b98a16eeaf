"""Built-in images that need no network: ``hello-world`` and ``busybox``.

Both are assembled here as one-layer tars with fixed timestamps, owners and order, so the same host
always produces the same image id (busybox's id depends on the host's busybox binary).
They are created on first :meth:`~runtime.images.store.ImageStore.resolve` or by ``vmvc image init``.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from typing import TYPE_CHECKING

from runtime.errors import VmvcError
from runtime.images import hello
from runtime.images.config import DEFAULT_PATH

if TYPE_CHECKING:  # the store imports this module (built-ins are made on first use), never the reverse
    from runtime.images.store import Image, ImageStore

CREATED = "2026-01-01T00:00:00Z"
MTIME = 1767225600  # CREATED as a Unix time


def _tar(entries: list[tuple]) -> bytes:
    """A deterministic tar from ``(name, kind, mode, payload)`` rows (kind: dir, file, link, symlink)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, kind, mode, payload in entries:
            info = tarfile.TarInfo(name)
            info.mtime, info.mode, info.uname, info.gname = MTIME, mode, "root", "root"
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                tf.addfile(info)
            elif kind == "file":
                info.size = len(payload)
                tf.addfile(info, io.BytesIO(payload))
            elif kind == "link":
                info.type, info.linkname = tarfile.LNKTYPE, payload
                tf.addfile(info)
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, payload
                tf.addfile(info)
    return buf.getvalue()


def hello_world_layer() -> tuple[bytes, dict]:
    return _tar([("hello", "file", 0o755, hello.program())]), {"Cmd": ["/hello"], "Env": [DEFAULT_PATH]}


PASSWD = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
GROUP = b"root:x:0:\nnogroup:x:65534:\n"


def host_busybox() -> str:
    """Path of the host's static busybox (busybox-static on Debian)."""
    from runtime.doctor.tools import static_busybox

    path = static_busybox((shutil.which("busybox"), "/bin/busybox", "/usr/bin/busybox"))
    if path is None:
        raise VmvcError("no static busybox on this host: the busybox image needs busybox-static "
                        "(apt-get install busybox-static)")
    return path


def busybox_layer() -> tuple[bytes, dict]:
    path = host_busybox()
    with open(path, "rb") as f:
        binary = f.read()
    listed = subprocess.run([path, "--list-full"], capture_output=True, text=True, check=True).stdout.split()
    applets = sorted({a for a in listed if "/" in a and a != "bin/busybox"})
    dirs = ["bin", "dev", "etc", "home", "proc", "root", "sbin", "sys", "tmp", "usr", "usr/bin", "usr/sbin",
            "var", "var/tmp"]
    mode = {"root": 0o700, "tmp": 0o1777, "var/tmp": 0o1777}
    entries = [(d, "dir", mode.get(d, 0o755), None) for d in dirs]
    entries += [("bin/busybox", "file", 0o755, binary), ("etc/passwd", "file", 0o644, PASSWD),
                ("etc/group", "file", 0o644, GROUP)]
    # A hard link entry carries its target's mode: docker's extractor chmods the shared inode to it,
    # so mode 0 here would make /bin/busybox unexecutable in a `docker load`ed copy.
    entries += [(a, "link", 0o755, "bin/busybox") for a in applets]
    return _tar(entries), {"Cmd": ["sh"], "Env": [DEFAULT_PATH]}


BUILTINS = {
    "docker.io/library/hello-world:latest": hello_world_layer,
    "docker.io/library/busybox:latest": busybox_layer,
}


def create(store: ImageStore, full_name: str) -> Image:
    """Build one built-in image into ``store`` and tag it."""
    layer, config = BUILTINS[full_name]()
    return store.import_tar(io.BytesIO(layer), full_name, config=config, created=CREATED,
                            comment=f"vmvc built-in {full_name.rsplit('/', 1)[-1]}", trusted=True)


def init(store: ImageStore) -> list[Image]:
    """Create every built-in image that is missing (``vmvc image init``)."""
    return [store.find(name) or create(store, name) for name in BUILTINS]
