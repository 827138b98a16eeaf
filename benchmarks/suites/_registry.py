"""What the pull and mirror suites share: a local registry seeded with realistic images, and stores.

The hub is Debian's docker-registry on loopback. It holds two images, both as Docker schema 2 manifests
with gzip-compressed layers (what Docker Hub serves):

- ``library/busybox``: vmvc's busybox (about 2 MB) in one gzip layer, the small case;
- ``library/app``: about 100 MB in four layers shaped like an application image (see :data:`LAYERS`):
  an OS-like layer of many small text files, a layer of semi-compressible library-like files, a layer of
  incompressible assets (already-compressed media), and an application layer of many small files.

The big image is generated deterministically (seeded PRNG, fixed mtimes) and cached, compressed, under
the state root's ``bench-images/``, so later runs only upload it. Each image is there as ``:latest`` and
as variants ``:v0``, ``:v1``… that differ in every layer (:meth:`Image.variant`), one per round.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import tarfile
from contextlib import contextmanager

GEN = 1  # bump when the generated image changes: the cache is keyed by it
# (name, files, bytes per file, kind): kind "text" compresses ~4x, "binary" ~2x, "random" not at all
LAYERS = [("os", 2400, 5_000, "text"), ("libs", 60, 500_000, "binary"), ("assets", 6, 5_000_000, "random"),
          ("app", 1500, 18_000, "text")]
BIG = "app"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


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


def _content(rng: random.Random, vocab: list[bytes], size: int, kind: str) -> bytes:
    if kind == "random":
        return rng.randbytes(size)
    weights = _ZIPF[:len(vocab)]  # word frequencies as in text: a few words most of the time
    if kind == "binary":  # runs of random bytes between runs of structured ones, like machine code
        out, n = [], 0
        while n < size:
            piece = (rng.randbytes(1024) if rng.random() < 0.3 else
                     b"".join(rng.choices(vocab, weights, k=300)))
            out.append(piece)
            n += len(piece)
        return b"".join(out)[:size]
    words = b" ".join(rng.choices(vocab, weights, k=size // 5 + 1))
    return words[:size]


_ZIPF = [1 / (rank + 1) for rank in range(3000)]


def layer_body(name: str, files: int, size: int, kind: str, seed: int) -> bytes:
    """A layer tar without its end-of-archive blocks (a variant's stamp goes there)."""
    rng = random.Random(f"vmvc-bench-{GEN}-{seed}")
    vocab = [bytes(rng.choices(b"abcdefghijklmnopqrstuvwxyz_{}();=\n", k=rng.randint(2, 10)))
             for _ in range(3000)]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        dirs = [f"{name}/d{i:02d}" for i in range(max(1, files // 100))]
        for d in [name, *dirs]:
            info = tarfile.TarInfo(d)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1_700_000_000
            t.addfile(info)
        for i in range(files):
            data = _content(rng, vocab, max(1, int(size * rng.uniform(0.5, 1.5))), kind)
            info = tarfile.TarInfo(f"{dirs[i % len(dirs)]}/f{i:05d}")
            info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
            t.addfile(info, io.BytesIO(data))
            if i % 97 == 0:
                link = tarfile.TarInfo(f"{dirs[i % len(dirs)]}/l{i:05d}")
                link.type, link.linkname, link.mtime = tarfile.SYMTYPE, f"f{i:05d}", 1_700_000_000
                t.addfile(link)
        return buf.getvalue()[:t.offset]


def _body_of(tar: bytes) -> bytes:
    """A whole layer tar minus its end-of-archive blocks."""
    with tarfile.open(fileobj=io.BytesIO(tar), mode="r:") as t:
        for _ in t:
            pass
        return tar[:t.offset]


def _stamp(n: int) -> bytes:
    """The end of variant ``n``'s layers: one small file saying ``n``, then the end-of-archive blocks."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        data = f"{n}\n".encode()
        info = tarfile.TarInfo(".vmvc-bench-variant")
        info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
        t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _gzip(data: bytes) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=6, mtime=0) as g:  # Go's default level
        g.write(data)
    return out.getvalue()


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Image:
    """An image's layers, gzipped once; :meth:`variant` makes copies that differ in every layer (each
    layer gets one more gzip member: a stamp file and the end blocks), so that every round of a benchmark
    pulls layers no destination has seen, with nothing deleted in between. (Deleting a pulled image's
    thousands of files right before the next pull makes the next one pay for it on some filesystems:
    ext4 without a journal scans recently deleted inodes on every create.)"""

    def __init__(self, bodies: list[bytes], cmd: list[str], gz: list[bytes] | None = None) -> None:
        self.gz = gz or [_gzip(b) for b in bodies]
        self.sha = [hashlib.sha256(b) for b in bodies]
        self.cmd = cmd
        self.mb = round(sum(len(b) for b in bodies) / 1e6, 1)

    def variant(self, n: int) -> tuple[bytes, list[bytes]]:
        """(config, gzip layers) of variant ``n``."""
        stamp = _stamp(n)
        stamp_gz = _gzip(stamp)
        diff_ids = []
        for h in self.sha:
            h = h.copy()
            h.update(stamp)
            diff_ids.append("sha256:" + h.hexdigest())
        config = {"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
                  "config": {"Cmd": self.cmd, "Env": ["PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
                  "rootfs": {"type": "layers", "diff_ids": diff_ids}}
        return json.dumps(config, separators=(",", ":")).encode(), [g + stamp_gz for g in self.gz]


def big_image(cache: str | None = None) -> Image:
    """The ~100 MB application image, generated once and cached (gzip layer bodies)."""
    if cache is None:
        from runtime import paths

        cache = paths.subdir("bench-images")
    where = os.path.join(cache, f"{BIG}-gen{GEN}")
    try:
        gz = []
        for i in range(len(LAYERS)):
            with open(os.path.join(where, f"layer-{i}.gz"), "rb") as f:
                gz.append(f.read())
        return Image([gzip.decompress(g) for g in gz], ["sh"], gz)
    except FileNotFoundError:
        pass
    image = Image([layer_body(*spec, seed=i) for i, spec in enumerate(LAYERS)], ["sh"])
    tmp = f"{where}.tmp-{os.getpid()}"
    os.makedirs(tmp, exist_ok=True)
    for i, blob in enumerate(image.gz):
        with open(os.path.join(tmp, f"layer-{i}.gz"), "wb") as f:
            f.write(blob)
    try:
        os.rename(tmp, where)
    except OSError:  # another run cached it first
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return image


def upload(registry_url: str, repo: str, config: bytes, layers: list[bytes], tag: str = "latest") -> str:
    """Put an image (blobs, then a Docker schema 2 manifest) into a registry; returns the manifest digest."""
    from runtime.registry.http import Endpoint
    from runtime.registry.push import _exists, _upload

    ep = Endpoint(registry_url)
    scope = f"repository:{repo}:pull,push"
    descs = [(b, _sha(b)) for b in [*layers, config]]
    try:
        for blob, digest in descs:
            if not _exists(ep, repo, digest, scope):
                _upload(ep, repo, digest, blob, len(blob), scope)
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
            "config": {"mediaType": DOCKER_CONFIG, "digest": descs[-1][1], "size": len(config)},
            "layers": [{"mediaType": DOCKER_LAYER, "digest": d, "size": len(b)} for b, d in descs[:-1]]},
            separators=(",", ":")).encode()
        ep.request("PUT", f"/v2/{repo}/manifests/{tag}", {"Content-Type": DOCKER_MANIFEST}, manifest,
                   scope=scope, ok=(201, 200))
    finally:
        ep.close()
    return _sha(manifest)


def busybox(workdir: str) -> Image:
    """vmvc's busybox (its layer gzipped, as a registry would serve it)."""
    seeder = private_store(os.path.join(workdir, "seeder"))
    image = seeder.resolve("busybox")
    bodies = []
    for diff_id in image.diff_ids:
        with seeder.open_layer_tar(diff_id) as f:
            bodies.append(_body_of(f.read()))
    return Image(bodies, ["sh"])


@contextmanager
def seeded_hub(workdir: str, big: bool = False, variants: int = 1):
    """A registry with library/busybox (and library/app when ``big``), each as ``:latest`` and as
    ``:v0`` … ``:v<variants-1>``; yields (registry, {image: MB})."""
    from runtime.registry import LocalRegistry

    with LocalRegistry(os.path.join(workdir, "hub")) as hub:
        images = {}
        for name, image in [("busybox", busybox(workdir))] + ([(BIG, big_image())] if big else []):
            for n in range(variants):
                config, layers = image.variant(n)
                upload(hub.url, f"library/{name}", config, layers, tag=f"v{n}")
                if n == 0:
                    upload(hub.url, f"library/{name}", config, layers)
            images[name] = image.mb
        yield hub, images
