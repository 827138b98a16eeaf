"""What the pull and mirror suites share: a local registry seeded with realistic images, and stores.

The hub is Debian's docker-registry on loopback. It holds two images, both as Docker schema 2 manifests
with gzip-compressed layers (what Docker Hub serves):

- ``library/busybox``: vmvc's busybox (about 2 MB) in one gzip layer, the small case;
- ``library/app``: about 100 MB in four layers shaped like an application image (see :data:`LAYERS`):
  an OS-like layer of many small text files, a layer of semi-compressible library-like files, a layer of
  incompressible assets (already-compressed media), and an application layer of many small files.

The big image is generated deterministically (seeded PRNG, fixed mtimes) and cached, compressed, under
the state root's ``bench-images/`` so later runs only upload it.
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


def _layer_tar(name: str, files: int, size: int, kind: str, seed: int) -> bytes:
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
    return buf.getvalue()


def _gzip(data: bytes) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=6, mtime=0) as g:  # Go's default level
        g.write(data)
    return out.getvalue()


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def image_files(layer_tars: list[bytes], cmd: list[str]) -> tuple[bytes, list[bytes]]:
    """(config, gzip layers) of an image made of ``layer_tars``."""
    config = {"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
              "config": {"Cmd": cmd, "Env": ["PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
              "rootfs": {"type": "layers", "diff_ids": [_sha(t) for t in layer_tars]}}
    return json.dumps(config, separators=(",", ":")).encode(), [_gzip(t) for t in layer_tars]


def big_image_files(cache: str | None = None) -> tuple[bytes, list[bytes]]:
    """The ~100 MB application image, generated once and cached (config, gzip layers)."""
    if cache is None:
        from runtime import paths

        cache = paths.subdir("bench-images")
    where = os.path.join(cache, f"{BIG}-gen{GEN}")
    try:
        with open(os.path.join(where, "config.json"), "rb") as f:
            config = f.read()
        layers = []
        for i in range(len(LAYERS)):
            with open(os.path.join(where, f"layer-{i}.tar.gz"), "rb") as f:
                layers.append(f.read())
        return config, layers
    except FileNotFoundError:
        pass
    config, layers = image_files([_layer_tar(*spec, seed=i) for i, spec in enumerate(LAYERS)], ["sh"])
    tmp = f"{where}.tmp-{os.getpid()}"
    os.makedirs(tmp, exist_ok=True)
    for i, blob in enumerate(layers):
        with open(os.path.join(tmp, f"layer-{i}.tar.gz"), "wb") as f:
            f.write(blob)
    with open(os.path.join(tmp, "config.json"), "wb") as f:
        f.write(config)
    try:
        os.rename(tmp, where)
    except OSError:  # another run cached it first
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return config, layers


def upload(registry_url: str, repo: str, config: bytes, layers: list[bytes], tag: str = "latest") -> str:
    """Put an image (blobs, then a Docker schema 2 manifest) into a registry; returns the manifest digest."""
    from runtime.registry.http import Endpoint
    from runtime.registry.push import _exists, _upload

    ep = Endpoint(registry_url)
    scope = f"repository:{repo}:pull,push"
    try:
        for blob in [*layers, config]:
            if not _exists(ep, repo, _sha(blob), scope):
                _upload(ep, repo, _sha(blob), blob, len(blob), scope)
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
            "config": {"mediaType": DOCKER_CONFIG, "digest": _sha(config), "size": len(config)},
            "layers": [{"mediaType": DOCKER_LAYER, "digest": _sha(b), "size": len(b)} for b in layers]},
            separators=(",", ":")).encode()
        ep.request("PUT", f"/v2/{repo}/manifests/{tag}", {"Content-Type": DOCKER_MANIFEST}, manifest,
                   scope=scope, ok=(201, 200))
    finally:
        ep.close()
    return _sha(manifest)


def busybox_files(workdir: str) -> tuple[bytes, list[bytes]]:
    """vmvc's busybox as (config, gzip layers): the same bytes docker would pull for it."""
    seeder = private_store(os.path.join(workdir, "seeder"))
    image = seeder.resolve("busybox")
    tars = []
    for diff_id in image.diff_ids:
        with seeder.open_layer_tar(diff_id) as f:
            tars.append(f.read())
    return image_files(tars, ["sh"])


def megabytes(layers: list[bytes]) -> float:
    """The image's size as ``docker images`` shows it: uncompressed layer bytes (each gzip member's
    ISIZE trailer), in MB."""
    return round(sum(int.from_bytes(b[-4:], "little") for b in layers) / 1e6, 1)


@contextmanager
def seeded_hub(workdir: str, big: bool = False):
    """A registry with library/busybox (and library/app when ``big``); yields (registry, {image: MB})."""
    from runtime.registry import LocalRegistry

    with LocalRegistry(os.path.join(workdir, "hub")) as hub:
        images = {}
        todo = [("busybox", busybox_files(workdir))] + ([(BIG, big_image_files())] if big else [])
        for name, (config, layers) in todo:
            upload(hub.url, f"library/{name}", config, layers)
            images[name] = megabytes(layers)
        yield hub, images
