"""Images in and out as tarballs that docker and skopeo read and write.

``save`` writes what docker 25+ writes: an OCI image layout (``oci-layout``, ``index.json``,
``blobs/sha256/…``) that also carries docker's ``manifest.json``, so both ``docker load`` and any
OCI tool accept it. The blobs are the store's own bytes, so ids survive a round trip.

``load`` reads a docker-archive (``manifest.json``; old ``<id>/layer.tar`` or new ``blobs/`` paths)
or an OCI layout (``index.json``, gzip or plain layers, nested indexes picked for linux/amd64), from a
tarball (maybe compressed) or a directory such as ``skopeo copy … oci:DIR`` makes. Every layer goes
through the same safety checks as ``import`` and must hash to the diff id its config claims; nothing
is committed until every layer of every image in the archive has passed.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import posixpath
import tarfile
import tempfile
import time
from collections import namedtuple

from runtime.errors import VmvcError
from runtime.images import layers as layerlib
from runtime.images import limits, reference
from runtime.images.store import MEDIA_MANIFEST, Image, ImageStore
from runtime.linux import safefs

MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MAX_JSON = 16 << 20
MAX_MEMBERS = 100_000  # an image archive holds a few files per image (blobs), not millions
NAME_ANNOTATION = "io.containerd.image.name"
REF_ANNOTATION = "org.opencontainers.image.ref.name"


class BadArchive(VmvcError):
    """The tarball is not a docker-archive or OCI layout we can read, or lies about its contents."""


# -- save -------------------------------------------------------------------------------------------
def save(store: ImageStore, refs: list[str], out) -> None:
    """Write the images ``refs`` name to ``out`` (a path, written atomically, or a binary stream)."""
    chosen: list[tuple[Image, list[str]]] = []
    for ref in refs:
        image = store.resolve(ref)
        named = not (ref.startswith("sha256:") or image.id[7:].startswith(ref))
        tags = [reference.normalise(ref)] if named else list(image.tags)
        chosen.append((image, tags))
    if isinstance(out, (str, os.PathLike)):
        parent = os.path.dirname(os.path.abspath(out))
        fd, tmp = tempfile.mkstemp(prefix=".vmvc-save-", dir=parent)
        try:
            with os.fdopen(fd, "wb") as f:
                _write(store, chosen, f)
            os.rename(tmp, out)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
    else:
        _write(store, chosen, out)


def _write(store: ImageStore, chosen: list[tuple[Image, list[str]]], f) -> None:
    manifests, index_entries, written = [], [], set()
    layer_ids = {d for image, _ in chosen for d in image.diff_ids}
    with tarfile.open(fileobj=f, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        def blob(digest: str) -> str:
            name = "blobs/sha256/" + digest[7:]
            if digest not in written:
                written.add(digest)
                info = tarfile.TarInfo(name)
                info.mode, info.mtime = 0o444, int(time.time())
                if digest in layer_ids:
                    info.size = store.layer_tar_size(digest)
                    src = store.open_layer_tar(digest)
                else:
                    info.size = os.path.getsize(store.blob_path(digest))
                    src = open(store.blob_path(digest), "rb")
                with src:
                    tf.addfile(info, src)
                    if hasattr(src, "verify"):
                        src.verify()
            return name

        def data(name: str, payload: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(payload), 0o444
            tf.addfile(info, io.BytesIO(payload))

        for image, tags in chosen:
            manifest_size = os.path.getsize(store.blob_path(image.manifest))
            entry = {"Config": blob(image.id), "RepoTags": [reference.familiar(t) for t in tags] or None,
                     "Layers": [blob(d) for d in image.diff_ids]}
            blob(image.manifest)
            manifests.append(entry)
            descriptor = {"mediaType": MEDIA_MANIFEST, "digest": image.manifest, "size": manifest_size}
            for tag in tags or [None]:
                d = dict(descriptor)
                if tag:
                    d["annotations"] = {NAME_ANNOTATION: tag, REF_ANNOTATION: tag.rsplit(":", 1)[1]}
                index_entries.append(d)
        data("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        data("index.json", json.dumps({"schemaVersion": 2, "mediaType": MEDIA_INDEX,
                                       "manifests": index_entries}).encode())
        data("manifest.json", json.dumps(manifests).encode())


# -- load -------------------------------------------------------------------------------------------
class _Source:
    """Named members of a tarball or a directory, read only through safe relative names."""

    def __init__(self, path: str) -> None:
        self.dir = path if os.path.isdir(path) else None
        self.tar = None if self.dir else tarfile.open(path, mode="r:", tarinfo=layerlib.LimitedTarInfo)
        if self.tar is not None:
            self.members = {}
            while (m := self.tar.next()) is not None:
                if len(self.members) >= MAX_MEMBERS:
                    raise BadArchive(f"more than {MAX_MEMBERS} entries: not an image archive")
                self.members[posixpath.normpath(m.name.lstrip("/"))] = m

    def _clean(self, name: str) -> str:
        clean = posixpath.normpath(name)
        if clean.startswith("/") or clean == ".." or clean.startswith("../"):
            raise BadArchive(f"archive refers to {name!r}, outside itself")
        return clean

    def has(self, name: str) -> bool:
        name = self._clean(name)
        if self.dir:
            return os.path.isfile(os.path.join(self.dir, name))
        return name in self.members

    def open(self, name: str):
        clean = self._clean(name)
        if self.dir:  # never through a symlink, never a FIFO (runtime.linux.safefs)
            try:
                return safefs.open_beneath(self.dir, clean)
            except OSError:
                raise BadArchive(f"archive has no regular file {name!r}") from None
        member = self.members.get(clean)
        f = self.tar.extractfile(member) if member is not None else None
        if f is None:
            raise BadArchive(f"archive has no file {name!r}")
        return f

    def read_json(self, name: str):
        with self.open(name) as f:
            raw = f.read(MAX_JSON + 1)
        if len(raw) > MAX_JSON:
            raise BadArchive(f"{name} is larger than {MAX_JSON} bytes")
        try:
            return json.loads(raw), raw
        except (ValueError, RecursionError):
            raise BadArchive(f"{name} is not JSON") from None

    def close(self) -> None:
        if self.tar is not None:
            self.tar.close()


@contextlib.contextmanager
def _seekable(store: ImageStore, src):
    """A path to an uncompressed tarball or layout directory, spooling streams/compressed input."""
    if isinstance(src, (str, os.PathLike)) and os.path.isdir(src):
        yield str(src)
        return
    if isinstance(src, (str, os.PathLike)):
        try:
            f = open(src, "rb")
        except OSError as e:
            raise VmvcError(f"open {src}: {e.strerror}") from None
    else:
        f = src
    with contextlib.ExitStack() as stack:
        if f is not src:
            stack.enter_context(f)
        raw, meter = limits.metered(f)
        plain = layerlib.decompressed(raw)
        if plain is raw and isinstance(src, (str, os.PathLike)):
            yield str(src)
            return
        budget = limits.Budget(store.tmp, meter)
        fd, tmp = tempfile.mkstemp(prefix=f"vmvc-load-{os.getpid()}-", dir=store.tmp)
        try:
            with os.fdopen(fd, "wb") as out:
                written = 0
                try:
                    while chunk := plain.read(layerlib.CHUNK):
                        out.write(chunk)
                        written += len(chunk)
                        budget.charge(written)
                except layerlib.DECOMPRESS_ERRORS as e:
                    raise layerlib.bad_input(e, "not a valid compressed archive") from None
            yield tmp
        finally:
            os.unlink(tmp)


ArchivedImage = namedtuple("ArchivedImage", "config layers tags")
ArchivedImage.__doc__ = """One image of an archive as its manifest names it: its config's bytes, the
archive members holding its layers (in order), and its tags."""


def load(store: ImageStore, src) -> list[Image]:
    """Load every image of a docker-archive or OCI layout (path, directory or binary stream)."""
    with _seekable(store, src) as path:
        try:
            source = _Source(path)
        except tarfile.TarError as e:
            raise BadArchive(f"not a tar archive: {e}") from None
        try:
            plan = _plan(source)
            with store.staging() as stage:
                staged = []
                for image in plan:
                    diff_ids = _parse_config(image.config)["rootfs"]["diff_ids"]
                    if len(diff_ids) != len(image.layers):
                        raise BadArchive(f"config lists {len(diff_ids)} layers, manifest {len(image.layers)}")
                    for name, diff_id in zip(image.layers, diff_ids, strict=True):
                        with source.open(name) as f:
                            stage.add_layer(f, expect=diff_id)
                    staged.append((image.config, diff_ids, image.tags))
                return [store.add(stage, diff_ids, cb, tags) for cb, diff_ids, tags in staged]
        finally:
            source.close()


def _plan(source: _Source) -> list[ArchivedImage]:
    """The archive's images. The JSON is the archive's, so any shape can
    come: a missing key or a wrong type anywhere is one :class:`BadArchive` line, never a traceback."""
    if source.has("manifest.json"):
        what, planner = "manifest.json", _docker_plan
    elif source.has("index.json"):
        what, planner = "the OCI index or a manifest", _oci_plan
    else:
        raise BadArchive("neither a docker-archive (manifest.json) nor an OCI layout (index.json)")
    try:
        plan = planner(source)
    except KeyError as e:
        raise BadArchive(f"{what} is malformed: no {e} field") from None
    except (TypeError, AttributeError, ValueError, IndexError):
        raise BadArchive(f"{what} is malformed: a field has the wrong type") from None
    for image in plan:
        if not all(isinstance(x, str) for x in (*image.layers, *image.tags)):
            raise BadArchive(f"{what} is malformed: layer names and tags must be strings")
    return plan


def _parse_config(raw: bytes) -> dict:
    try:
        config = json.loads(raw)
        diff_ids = config["rootfs"]["diff_ids"]
        assert isinstance(diff_ids, list)
    except (ValueError, KeyError, TypeError, AssertionError, RecursionError):
        raise BadArchive("image config has no rootfs.diff_ids") from None
    for d in diff_ids:
        if not isinstance(d, str):
            raise BadArchive(f"image config lists a layer diff id that is not a string: {d!r:.40}")
        _blob_name(d)  # sha256:<64 hex> or BadArchive
    return config


def _docker_plan(source: _Source) -> list[ArchivedImage]:
    manifests, _ = source.read_json("manifest.json")
    if not isinstance(manifests, list):
        raise BadArchive("manifest.json is not a list")
    plan = []
    for m in manifests:
        _, config_bytes = source.read_json(m["Config"])
        tags = [t for t in (m.get("RepoTags") or []) if isinstance(t, str) and _valid(t)]
        plan.append(ArchivedImage(config_bytes, list(m.get("Layers") or []), tags))
    return plan


def _valid(tag: str) -> bool:
    try:
        reference.normalise(tag)
    except VmvcError:
        return False
    return True


def _blob_name(digest: str) -> str:
    if not isinstance(digest, str):
        raise BadArchive(f"a digest is not a string: {digest!r:.40}")
    alg, _, hexpart = digest.partition(":")
    if alg != "sha256" or len(hexpart) != 64 or not all(c in "0123456789abcdef" for c in hexpart):
        raise BadArchive(f"unsupported digest {digest!r}")
    return f"blobs/sha256/{hexpart}"


def _verified(source: _Source, digest: str) -> bytes:
    data, raw = source.read_json(_blob_name(digest))
    if "sha256:" + hashlib.sha256(raw).hexdigest() != digest:
        raise BadArchive(f"blob {digest} does not match its digest")
    return raw


def _oci_plan(source: _Source) -> list[ArchivedImage]:
    index, _ = source.read_json("index.json")
    plan = []
    for desc in index.get("manifests") or []:
        desc = _pick_platform(source, desc)
        manifest = json.loads(_verified(source, desc["digest"]))
        config_bytes = _verified(source, manifest["config"]["digest"])
        layer_names = [_blob_name(layer["digest"]) for layer in manifest.get("layers") or []]
        annotations = desc.get("annotations") or {}
        name = annotations.get(NAME_ANNOTATION) or annotations.get(REF_ANNOTATION) or ""
        tags = [name] if ("/" in name or ":" in name) and _valid(name) else []
        plan.append(ArchivedImage(config_bytes, layer_names, tags))
    return plan


def _pick_platform(source: _Source, desc: dict) -> dict:
    """Follow nested indexes down to one manifest, preferring linux/amd64."""
    for _ in range(4):
        if desc.get("mediaType") not in (MEDIA_INDEX, DOCKER_LIST):
            return desc
        nested = json.loads(_verified(source, desc["digest"]))
        options = nested.get("manifests") or []
        if not options:
            raise BadArchive(f"index {desc['digest']} is empty")
        best = next((d for d in options if (d.get("platform") or {}).get("architecture") == "amd64"
                     and (d.get("platform") or {}).get("os") == "linux"), options[0])
        best = dict(best)
        best.setdefault("annotations", desc.get("annotations") or {})
        desc = best
    raise BadArchive("indexes nested too deeply")
