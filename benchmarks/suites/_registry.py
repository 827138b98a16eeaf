"""What the pull and mirror suites share: a seeded local registry and images of chosen sizes.

The hub is Debian's docker-registry on loopback, seeded from a private store: vmvc's busybox (2 MB) and,
for the large case, a one-layer image of incompressible bytes (random data does not compress, so the
bytes on the wire are the bytes of the image, as with a real application layer).
"""

from __future__ import annotations

import io
import os
import tarfile
from contextlib import contextmanager


def private_store(path: str):
    """An image store under ``path`` (its own state root), without touching the caller's."""
    from runtime.images import open_store

    old = os.environ.get("VMVC_ROOT")
    os.environ["VMVC_ROOT"] = path
    try:
        return open_store()
    finally:
        if old is None:
            os.environ.pop("VMVC_ROOT", None)
        else:
            os.environ["VMVC_ROOT"] = old


def big_image(store, name: str, megabytes: int) -> None:
    """A one-layer image of ``megabytes`` MB of random bytes, tagged ``name``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        info = tarfile.TarInfo("data/blob.bin")
        info.size = megabytes << 20
        t.addfile(info, io.BytesIO(os.urandom(info.size)))
    buf.seek(0)
    store.import_tar(buf, name, config={"Cmd": ["sh"]}, trusted=True)


@contextmanager
def seeded_hub(workdir: str, big_mb: int = 0):
    """A registry with library/busybox (and library/big when ``big_mb``); yields (registry, images)."""
    from runtime.registry import LocalRegistry, push

    seeder = private_store(os.path.join(workdir, "seeder"))
    with LocalRegistry(os.path.join(workdir, "hub")) as hub:
        images = {"busybox": 2}
        seeder.resolve("busybox")
        seeder.tag("busybox", f"{hub.host}/library/busybox:latest")
        push(seeder, f"{hub.host}/library/busybox:latest", config={})
        if big_mb:
            big_image(seeder, f"{hub.host}/library/big:latest", big_mb)
            push(seeder, f"{hub.host}/library/big:latest", config={})
            images["big"] = big_mb
        yield hub, images
