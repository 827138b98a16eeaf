"""The content-addressed image store: blobs by digest, one directory per layer, tags in one index.

Layout under ``runtime.paths.subdir("images")``::

    index.json            images (config summary, layer diff ids, tags) and tags -> image id
    index.prev.json       the generation before (a damaged index is rebuilt, tags taken from here)
    quarantine/           damaged index files moved aside (see runtime.images.integrity)
    lock                  flock(2) taken by every writer (import, load, tag, rmi, prune)
    blobs/sha256/<hex>    OCI blobs: image configs, manifests; a layer's whole tar only when its
                          directory cannot give the bytes back (a path repeated in the archive)
    layers/<hex>/         each layer extracted once (named by its diff id), shared read-only by every
                          container of every image that has it
    tarsplit/<hex>        a layer tar minus its file contents (which its layer dir holds), so that
                          ``save`` rebuilds the exact bytes, hence the same ids (docker's tar-split)
    holds/<hex>/<cid>     one empty file per container using an image (rmi refuses while any exists)
    tmp/vmvc-*            staging and deletion dirs, renamed atomically into place (or away)

Readers never lock: the index is replaced by rename, and a store object caches it keyed by the file's
(inode, mtime, size), so :meth:`ImageStore.resolve` of an existing image costs one ``stat``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from runtime.errors import Conflict, NotFound, VmvcError
from runtime.images import integrity, reference, tarsplit
from runtime.images import layers as layerlib
from runtime.images.config import DEFAULT_PATH  # also importable from here, as before

MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar"
_HEX = re.compile(r"^[0-9a-f]{1,64}$")


@dataclass(frozen=True, slots=True)
class Image:
    """One image as the container engine needs it (cheap: built from the cached index)."""

    id: str                      # sha256:<hex> of the OCI config blob
    name: str                    # first tag, normalised (docker.io/library/busybox:latest), or ""
    repo_tags: list[str]         # familiar forms: ["busybox:latest"]
    tags: list[str]              # normalised forms
    config: dict                 # the OCI config's "config" (Env, Cmd, Entrypoint, WorkingDir, User)
    diff_ids: list[str]          # bottom layer first, as in the OCI config
    layer_dirs: list[str]        # TOP layer first: ready for overlay's lowerdir=top:...:bottom
    size: int                    # bytes of file content in its layers
    created: str
    architecture: str
    os: str
    manifest: str                # digest of the OCI manifest blob

    @property
    def short_id(self) -> str:
        return self.id[7:19]


_GO_ORDER = {  # field order of the OCI Go structs (image-spec specs-go/v1)
    "": ["created", "author", "architecture", "variant", "os", "os.version", "os.features", "config",
         "rootfs", "history"],
    "config": ["User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir", "Labels",
               "StopSignal", "ArgsEscaped"],
    "rootfs": ["type", "diff_ids"],
    "history": ["created", "created_by", "author", "comment", "empty_layer"],
}


def _ordered(obj: dict, order: list[str]) -> dict:
    known = {k: obj[k] for k in order if k in obj}
    return {**known, **{k: v for k, v in obj.items() if k not in known}}


def config_bytes(body: dict) -> bytes:
    """An image config serialised the way Go's image-spec structs marshal it.

    skopeo (and other Go tools) re-marshal configs when they convert docker-archive to OCI; writing
    ours in the same field order makes that conversion byte-identical, so the image id survives it.
    """
    out = _ordered(body, _GO_ORDER[""])
    if isinstance(out.get("config"), dict):
        out["config"] = _ordered(out["config"], _GO_ORDER["config"])
    if isinstance(out.get("rootfs"), dict):
        out["rootfs"] = _ordered(out["rootfs"], _GO_ORDER["rootfs"])
    if isinstance(out.get("history"), list):
        out["history"] = [_ordered(h, _GO_ORDER["history"]) for h in out["history"]]
    return json.dumps(out, separators=(",", ":")).encode()


def _shown(ref: str) -> str:
    """How docker names a missing image: ``foo`` -> ``foo:latest``; ids as given."""
    if ref.startswith("sha256:") or _HEX.match(ref):
        return ref
    return reference.familiar(reference.normalise(ref))


def _topmost_once(diff_ids: list[str]) -> list[str]:
    """Top-first layer list with repeats dropped (overlayfs refuses the same lower dir twice).

    Exact: a repeated layer's lower copy can never show through, since its identical upper copy
    sits above every layer in between and defines (or whites out) the very same paths.
    """
    seen, out = set(), []
    for d in reversed(diff_ids):
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _empty_index() -> dict:
    return {"images": {}, "tags": {}, "layers": {}}


class ImageStore:
    """Images on local disk. One object per process is enough; it caches the parsed index."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = str(root)
        self.blobs = os.path.join(self.root, "blobs", "sha256")
        self.layers = os.path.join(self.root, "layers")
        self.holds = os.path.join(self.root, "holds")
        self.tarsplit = os.path.join(self.root, "tarsplit")
        self.tmp = os.path.join(self.root, "tmp")
        self._index_path = os.path.join(self.root, "index.json")
        self._prev_path = os.path.join(self.root, "index.prev.json")
        self.quarantine = os.path.join(self.root, "quarantine")
        self._lock_depth = 0
        for d in (self.blobs, self.layers, self.holds, self.tmp, self.tarsplit):
            os.makedirs(d, mode=0o700, exist_ok=True)
        with contextlib.suppress(OSError):  # root only: layers hold images' setuid files (runtime.paths)
            if os.stat(self.root).st_mode & 0o077:
                os.chmod(self.root, 0o700)
        self._key: tuple | None = None
        self._idx: dict = _empty_index()
        self._objs: dict[str, Image] = {}

    # -- paths -------------------------------------------------------------------------------------
    def blob_path(self, digest: str) -> str:
        return os.path.join(self.blobs, digest.partition(":")[2])

    def layer_dir(self, diff_id: str) -> str:
        return os.path.join(self.layers, diff_id.partition(":")[2])

    def tarsplit_path(self, diff_id: str) -> str:
        return os.path.join(self.tarsplit, diff_id.partition(":")[2])

    def open_layer_tar(self, diff_id: str):
        """The layer's original tar as a stream: the kept blob, or rebuilt from headers + layer dir.

        Call ``.verify()`` on a rebuilt stream (it has one) after reading it to the end.
        """
        blob = self.blob_path(diff_id)
        if os.path.exists(blob):
            return open(blob, "rb")
        split = self.tarsplit_path(diff_id)
        if not os.path.exists(split):
            raise VmvcError(f"layer {diff_id} has neither a tar nor a tar-split; re-import the image")
        return tarsplit.Reader(split, self.layer_dir(diff_id), diff_id)

    def layer_tar_size(self, diff_id: str) -> int:
        return self._index()["layers"][diff_id]["blob_size"]

    # -- reading -----------------------------------------------------------------------------------
    def _index(self) -> dict:
        try:
            st = os.stat(self._index_path)
        except FileNotFoundError:
            if self._key is not None:
                self._key, self._idx, self._objs = None, _empty_index(), {}
            return self._idx
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        if key != self._key:
            try:
                self._idx = integrity.read_index(self._index_path)
            except integrity.Damaged as e:
                self._idx = self._repair(str(e))
                return self._index()
            except FileNotFoundError:  # removed between the stat and the open
                return self._index()
            self._key, self._objs = key, {}
        return self._idx

    def _repair(self, why: str) -> dict:
        """A damaged index: under the writer lock, move it to quarantine/ and rebuild it from the blobs
        (tags from the previous generation). One line on stderr; see :mod:`runtime.images.integrity`."""
        with self._lock_fd():
            try:
                return integrity.read_index(self._index_path)  # another process repaired it first
            except integrity.Damaged:
                pass
            except FileNotFoundError:
                return _empty_index()
            try:
                previous = integrity.read_index(self._prev_path)
            except (integrity.Damaged, OSError):
                previous = None
            os.makedirs(self.quarantine, mode=0o700, exist_ok=True)
            dest = os.path.join(self.quarantine, f"index.json.{time.strftime('%Y%m%dT%H%M%S')}.{os.getpid()}")
            os.rename(self._index_path, dest)
            idx = integrity.rebuild(self, previous)
            self._write_index(idx, keep_previous=False)
            untagged = sum(1 for rec in idx["images"].values() if not rec["tags"])
            print(f"vmvc: image index damaged ({why}); moved to {dest}; rebuilt from the blobs: "
                  f"{len(idx['images'])} images, {untagged} of them untagged", file=sys.stderr, flush=True)
            return idx

    def _image(self, idx: dict, image_id: str) -> Image:
        obj = self._objs.get(image_id)
        if obj is None:
            rec = idx["images"][image_id]
            tags = list(rec.get("tags", []))
            obj = Image(id=image_id, name=tags[0] if tags else "",
                        repo_tags=[reference.familiar(t) for t in tags], tags=tags,
                        config=rec.get("config") or {}, diff_ids=list(rec["layers"]),
                        layer_dirs=[self.layer_dir(d) for d in _topmost_once(rec["layers"])],
                        size=rec.get("size", 0), created=rec.get("created", ""),
                        architecture=rec.get("architecture", "amd64"), os=rec.get("os", "linux"),
                        manifest=rec.get("manifest", ""))
            self._objs[image_id] = obj
        return obj

    def images(self) -> list[Image]:
        idx = self._index()
        found = [self._image(idx, i) for i in idx["images"]]
        return sorted(found, key=lambda im: im.created, reverse=True)

    def _lookup(self, idx: dict, ref: str) -> str | None:
        if ref.startswith("sha256:"):
            hexpart = ref[7:]
            if ref in idx["images"]:
                return ref
            return self._by_prefix(idx, hexpart) if _HEX.match(hexpart) else None
        try:
            full = reference.normalise(ref)
        except VmvcError:
            full = None
        if full is not None and full in idx["tags"]:
            return idx["tags"][full]
        if _HEX.match(ref):
            return self._by_prefix(idx, ref)
        if full is None:
            reference.normalise(ref)  # re-raise the format error
        return None

    @staticmethod
    def _by_prefix(idx: dict, hexpart: str) -> str | None:
        hits = [i for i in idx["images"] if i[7:].startswith(hexpart)]
        if len(hits) > 1:
            raise VmvcError(f"short image id {hexpart!r} is ambiguous: {len(hits)} images match")
        return hits[0] if hits else None

    def find(self, ref: str) -> Image | None:
        """The image ``ref`` names, or None (no built-in creation)."""
        idx = self._index()
        image_id = self._lookup(idx, ref)
        return self._image(idx, image_id) if image_id else None

    def resolve(self, ref: str) -> Image:
        """Name, name:tag, full id or short id -> Image. Built-ins are created on first use."""
        found = self.find(ref)
        if found is not None:
            return found
        from runtime.images import builtin

        full = reference.normalise(ref) if not ref.startswith("sha256:") else ref
        if full in builtin.BUILTINS:
            return builtin.create(self, full)
        raise NotFound(f"No such image: {_shown(ref)}")

    # -- integrity ---------------------------------------------------------------------------------
    def verify(self, refs: list[str] | None = None,
               progress=None) -> list[tuple[Image, dict[str, str | None]]]:
        """Check the layers of ``refs`` (default: every image) against what was imported; records the
        verdicts in the index (see :mod:`runtime.images.integrity`). Per image: diff id -> problem.
        ``progress(done, total)`` is called after each layer (for a progress bar)."""
        images = [self.resolve(r) for r in refs] if refs else self.images()
        layers = list(dict.fromkeys(d for image in images for d in image.diff_ids))
        verdicts: dict[str, str | None] = {}
        for n, d in enumerate(layers, 1):
            verdicts[d] = integrity.verify_layer(self, d)
            if progress is not None:
                progress(n, len(layers))
        with self._locked() as idx:
            for d, problem in verdicts.items():
                info = idx["layers"].get(d)
                if info is not None and problem:
                    info["damaged"] = problem
                elif info is not None:
                    info.pop("damaged", None)
            self._write_index(idx)
        return [(image, {d: verdicts[d] for d in image.diff_ids}) for image in images]

    def check_intact(self, image: Image, ref: str) -> None:
        """Refuse (one line) an image with a layer that ``verify`` found damaged: a container would run
        on bad bytes. Costs nothing when nothing is known to be damaged (the index is cached)."""
        layers = self._index()["layers"]
        for d in image.diff_ids:
            problem = (layers.get(d) or {}).get("damaged")
            if problem:
                raise VmvcError(f"image {ref}: layer {d[:19]} is damaged ({problem}); remove the image "
                                f"and load or import it again")

    def config_blob(self, image: Image) -> bytes:
        with open(self.blob_path(image.id), "rb") as f:
            return f.read()

    # -- holds (containers using an image) ---------------------------------------------------------
    def _hold_dir(self, image_id: str) -> str:
        return os.path.join(self.holds, image_id.partition(":")[2])

    def hold(self, image_id: str, container_id: str) -> None:
        d = self._hold_dir(image_id)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, container_id), "wb"):
            pass

    def release(self, image_id: str, container_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self._hold_dir(image_id), container_id))

    def holders(self, image_id: str) -> list[str]:
        try:
            return sorted(os.listdir(self._hold_dir(image_id)))
        except FileNotFoundError:
            return []

    # -- writing -----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _lock_fd(self):
        """The writer flock (reentrant within this object: a repair may run inside a writer)."""
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        fd = os.open(os.path.join(self.root, "lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._lock_depth = 1
            yield
        finally:
            self._lock_depth = 0
            os.close(fd)

    @contextlib.contextmanager
    def _locked(self):
        """Exclusive writer lock; yields the index freshly read from disk."""
        with self._lock_fd():
            self._key = None
            idx = self._index()
            yield json.loads(json.dumps(idx))  # a private copy: a failed writer leaves the cache intact

    def _write_index(self, idx: dict, keep_previous: bool = True) -> None:
        if keep_previous:  # the generation before, for a repair to take tags from
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._prev_path)
            with contextlib.suppress(FileNotFoundError):
                os.link(self._index_path, self._prev_path)
        tmp = os.path.join(self.tmp, f"vmvc-index-{os.getpid()}.json")
        with open(tmp, "w") as f:
            json.dump(idx, f, separators=(",", ":"))
            f.flush()
            # Readers key their cache on (inode, mtime, size); inodes get reused, so make every
            # generation's mtime strictly larger than the last one's (writers hold the lock).
            try:
                last = os.stat(self._index_path).st_mtime_ns
            except FileNotFoundError:
                last = 0
            stamp = max(time.time_ns(), last + 1)
            os.utime(f.fileno(), ns=(stamp, stamp))
            os.fsync(f.fileno())
        os.rename(tmp, self._index_path)
        self._key = None

    def _write_blob(self, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        final = self.blob_path(digest)
        if not os.path.exists(final):
            fd, tmp = tempfile.mkstemp(prefix="vmvc-blob-", dir=self.tmp)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(fd)  # the fsync'd index will name it: it must be there after a crash
            os.rename(tmp, final)
        return digest

    @contextlib.contextmanager
    def staging(self):
        """A private dir under tmp/ for one import; removed whatever happens (also on Ctrl-C)."""
        path = tempfile.mkdtemp(prefix=f"vmvc-stage-{os.getpid()}-", dir=self.tmp)
        try:
            yield Staging(self, path)
        finally:
            layerlib.remove_tree(path)

    def add(self, stage: Staging, layer_ids: list[str], config_bytes: bytes, tags: list[str]) -> Image:
        """Commit staged layers plus a config as one image, atomically, and tag it."""
        config = json.loads(config_bytes)
        diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
        if diff_ids != layer_ids:
            raise VmvcError(f"image config lists layers {diff_ids}, the archive holds {layer_ids}")
        full_tags = [reference.normalise(t) for t in tags]
        with self._locked() as idx:
            self._clean_tmp()
            for diff_id in layer_ids:
                if diff_id not in stage.layers:  # a layer the store has already (a build's parent's)
                    if diff_id not in idx["layers"]:
                        raise VmvcError(f"layer {diff_id[:19]} is neither staged nor in the store")
                    continue
                stage.commit_layer(diff_id)
                info = stage.layers[diff_id]
                idx["layers"][diff_id] = {"size": info.content_size, "blob_size": info.blob_size}
            image_id = self._write_blob(config_bytes)
            manifest = {"schemaVersion": 2, "mediaType": MEDIA_MANIFEST,
                        "config": {"mediaType": MEDIA_CONFIG, "digest": image_id, "size": len(config_bytes)},
                        "layers": [{"mediaType": MEDIA_LAYER, "digest": d,
                                    "size": idx["layers"][d]["blob_size"]} for d in layer_ids]}
            manifest_digest = self._write_blob(json.dumps(manifest, separators=(",", ":")).encode())
            rec = idx["images"].get(image_id) or {"tags": []}
            rec.update(layers=layer_ids, config=config.get("config") or {}, manifest=manifest_digest,
                       created=config.get("created") or _now(), architecture=config.get("architecture", ""),
                       os=config.get("os", ""), size=sum(idx["layers"][d]["size"] for d in layer_ids))
            idx["images"][image_id] = rec
            for tag in full_tags:
                self._retag(idx, tag, image_id)
            self._write_index(idx)
        return self._image(self._index(), image_id)

    @staticmethod
    def _retag(idx: dict, tag: str, image_id: str) -> None:
        old = idx["tags"].get(tag)
        if old and old != image_id and old in idx["images"]:
            idx["images"][old]["tags"].remove(tag)  # the old image becomes dangling, like docker
        idx["tags"][tag] = image_id
        if tag not in idx["images"][image_id]["tags"]:
            idx["images"][image_id]["tags"].append(tag)

    def tag(self, ref: str, new: str) -> Image:
        image = self.resolve(ref)
        full = reference.normalise(new)
        with self._locked() as idx:
            if image.id not in idx["images"]:
                raise NotFound(f"No such image: {ref}")
            self._retag(idx, full, image.id)
            self._write_index(idx)
        return self._image(self._index(), image.id)

    def import_tar(self, src, ref: str | None = None, *, config: dict | None = None,
                   created: str | None = None, comment: str = "vmvc import", trusted: bool = False) -> Image:
        """A rootfs tarball (path or binary stream, maybe compressed) as a one-layer image."""
        if ref is not None:
            reference.normalise(ref)  # bad names fail before any work
        with self.staging() as stage:
            if isinstance(src, (str, os.PathLike)):
                try:
                    f = open(src, "rb")
                except OSError as e:
                    raise VmvcError(f"open {src}: {e.strerror}") from None
                with f:
                    diff_id = stage.add_layer(f, trusted=trusted)
            else:
                diff_id = stage.add_layer(src, trusted=trusted)
            when = created or _now()
            body = {"architecture": "amd64", "os": "linux", "created": when,
                    "config": config if config is not None else {"Env": [DEFAULT_PATH]},
                    "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                    "history": [{"created": when, "created_by": comment}]}
            return self.add(stage, [diff_id], config_bytes(body), [ref] if ref else [])

    # -- removing ----------------------------------------------------------------------------------
    def remove(self, ref: str, force: bool = False) -> list[dict]:
        """``docker rmi``: untag, and delete the image once no tag is left. Docker-like result list."""
        doomed: list[str] = []
        out: list[dict] = []
        with self._locked() as idx:
            image_id = self._lookup(idx, ref)  # under the lock: a tag may have moved meanwhile
            if image_id is None:
                raise NotFound(f"No such image: {_shown(ref)}")
            short = image_id[7:19]
            by_tag = not (ref.startswith("sha256:") or (_HEX.match(ref) and image_id[7:].startswith(ref)))
            rec = idx["images"][image_id]
            users = self.holders(image_id)
            if by_tag and len(rec["tags"]) > 1:
                untag = [reference.normalise(ref)]
            else:
                if not by_tag and len(rec["tags"]) > 1 and not force:
                    raise Conflict(f"conflict: unable to delete {short} (must be forced) - "
                                   f"image is referenced in multiple repositories")
                if users and not force:
                    raise Conflict(f"conflict: unable to remove repository reference {ref!r} (must force)"
                                   f" - container {users[0][:12]} is using its referenced image {short}")
                untag = list(rec["tags"])
            for tag in untag:
                rec["tags"].remove(tag)
                idx["tags"].pop(tag, None)
                out.append({"Untagged": reference.familiar(tag)})
            if not rec["tags"] and not users:
                del idx["images"][image_id]
                out.append({"Deleted": image_id})
                doomed = self._unreferenced(idx)
            self._write_index(idx)
            moved = self._move_away(doomed)
        for path in moved:
            layerlib.remove_tree(path)
        return out

    def _unreferenced(self, idx: dict) -> list[str]:
        """Layer dirs and blobs no image in ``idx`` refers to (their paths); drops them from idx."""
        used_layers = {d for rec in idx["images"].values() for d in rec["layers"]}
        used_blobs = set(used_layers)
        for image_id, rec in idx["images"].items():
            used_blobs.update((image_id, rec.get("manifest", "")))
        for d in list(idx["layers"]):
            if d not in used_layers:
                del idx["layers"][d]
        paths = [os.path.join(self.layers, h) for h in os.listdir(self.layers)
                 if "sha256:" + h not in used_layers]
        paths += [os.path.join(self.blobs, h) for h in os.listdir(self.blobs)
                  if "sha256:" + h not in used_blobs]
        paths += [os.path.join(self.tarsplit, h) for h in os.listdir(self.tarsplit)
                  if "sha256:" + h not in used_layers]
        return paths

    def _move_away(self, paths: list[str]) -> list[str]:
        """Rename doomed paths into tmp/ (atomic disappearance) so the slow delete runs unlocked."""
        moved = []
        for i, path in enumerate(paths):
            dest = os.path.join(self.tmp, f"vmvc-del-{os.getpid()}-{time.monotonic_ns()}-{i}")
            with contextlib.suppress(FileNotFoundError):
                os.rename(path, dest)
                moved.append(dest)
        return moved

    def _clean_tmp(self) -> None:
        """Remove staging/deletion dirs of processes that died (crash, SIGKILL). Caller holds the lock."""
        for name in os.listdir(self.tmp):
            parts = name.split("-")
            if len(parts) < 3 or not parts[2].isdigit():
                continue
            pid = int(parts[2])
            if pid == os.getpid():
                continue
            try:
                os.kill(pid, 0)
                continue
            except ProcessLookupError:
                pass
            except PermissionError:
                continue
            with contextlib.suppress(OSError):  # e.g. its orphaned tar still writing: next time
                layerlib.remove_tree(os.path.join(self.tmp, name))

    def prune(self, all_images: bool = False) -> dict:
        """Delete dangling images (or every unused one with ``all_images``) and orphaned files."""
        deleted, untagged = [], []
        reclaimed = 0
        with self._locked() as idx:
            self._clean_tmp()
            for image_id, rec in list(idx["images"].items()):
                if self.holders(image_id) or (rec["tags"] and not all_images):
                    continue
                for tag in rec["tags"]:
                    idx["tags"].pop(tag, None)
                    untagged.append(reference.familiar(tag))
                del idx["images"][image_id]
                deleted.append(image_id)
            doomed = self._unreferenced(idx)
            reclaimed = sum(_disk_usage(p) for p in doomed)
            self._write_index(idx)
            moved = self._move_away(doomed)
        for path in moved:
            layerlib.remove_tree(path)
        return {"ImagesDeleted": [{"Untagged": t} for t in untagged] + [{"Deleted": i} for i in deleted],
                "SpaceReclaimed": reclaimed}

    # -- accounting --------------------------------------------------------------------------------
    def disk_usage(self) -> dict:
        """Per image: size, shared and unique bytes, containers; totals and shared-layer savings."""
        idx = self._index()
        users = {d: 0 for d in idx["layers"]}
        for rec in idx["images"].values():
            for d in set(rec["layers"]):
                users[d] = users.get(d, 0) + 1
        rows = []
        for image in self.images():
            shared = sum(idx["layers"][d]["size"] for d in set(image.diff_ids) if users[d] > 1)
            rows.append({"Id": image.id, "RepoTags": image.repo_tags, "Created": image.created,
                         "Size": image.size, "SharedSize": shared, "UniqueSize": image.size - shared,
                         "Containers": len(self.holders(image.id))})
        layer_bytes = sum(v["size"] for v in idx["layers"].values())
        naive = sum(r["Size"] for r in rows)
        blob_bytes = sum(_file_size(p) for d in idx["layers"]
                         for p in (self.blob_path(d), self.tarsplit_path(d)))
        active = sum(1 for r in rows if r["Containers"])
        reclaimable = sum(r["UniqueSize"] for r in rows if not r["Containers"])
        return {"Images": rows, "LayersSize": layer_bytes, "BlobsSize": blob_bytes,
                "SizeIfNotShared": naive, "SharedSavings": naive - layer_bytes, "Active": active,
                "Reclaimable": reclaimable, "Layers": len(idx["layers"])}


def _file_size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def _disk_usage(path: str) -> int:
    """Bytes on disk under ``path`` (hardlinked files counted once); iterative, see safefs."""
    from runtime.linux import safefs

    return safefs.disk_usage(path)


class Staging:
    """Layers being imported: checked and extracted in a private dir, then renamed into the store."""

    def __init__(self, store: ImageStore, path: str) -> None:
        self.store, self.path = store, path
        self.layers: dict[str, _Staged] = {}

    def add_layer(self, src, trusted: bool = False, expect: str | None = None) -> str:
        """Check, keep and (unless the store has it already) extract one layer tar; returns its diff id."""
        n = len(self.layers)
        blob = os.path.join(self.path, f"blob-{n}")
        have = expect is not None and os.path.isdir(self.store.layer_dir(expect))
        dest = None if have else self._new_dir(n)
        checked = layerlib.ingest(src, blob, dest, trusted=trusted)
        if expect and checked.diff_id != expect:
            raise VmvcError(f"layer digest mismatch: expected {expect}, got {checked.diff_id}")
        if dest is not None:
            layerlib.finish_extract(dest, checked)
        if checked.diff_id not in self.layers:
            skeleton = tarsplit.make(blob, checked)
            self.layers[checked.diff_id] = _Staged(checked, blob, dest, trusted, skeleton)
        return checked.diff_id

    def _new_dir(self, n: int) -> str:
        dest = os.path.join(self.path, f"layer-{n}")
        os.mkdir(dest, 0o755)
        os.chmod(dest, 0o755)  # not the umask's idea: this becomes the container's /
        return dest

    def commit_layer(self, diff_id: str) -> None:
        """Move one staged layer (dir and blob) into the store. Caller holds the store lock."""
        staged = self.layers[diff_id]
        final_dir = self.store.layer_dir(diff_id)
        if not os.path.isdir(final_dir):
            if staged.dir is None:  # it existed when we staged, and was removed since
                staged.dir = self._new_dir(len(self.layers) + 1000)
                with open(staged.blob, "rb") as f:
                    layerlib.ingest(f, None, staged.dir, trusted=staged.trusted)
                layerlib.finish_extract(staged.dir, staged.checked)
            os.rename(staged.dir, final_dir)
        final_blob, final_split = self.store.blob_path(diff_id), self.store.tarsplit_path(diff_id)
        if os.path.exists(final_blob) or os.path.exists(final_split):
            return
        if staged.skeleton is None:
            os.rename(staged.blob, final_blob)
        else:  # the staged blob is deleted with the staging dir, usually before it ever reaches disk
            tmp = staged.blob + ".tarsplit"
            with open(tmp, "wb") as f:
                f.write(staged.skeleton)
            os.rename(tmp, final_split)


@dataclass
class _Staged:
    checked: layerlib.Checked
    blob: str
    dir: str | None
    trusted: bool = False
    skeleton: bytes | None = None

    @property
    def content_size(self) -> int:
        return self.checked.content_size

    @property
    def blob_size(self) -> int:
        return self.checked.blob_size


_stores: dict[str, ImageStore] = {}


def open_store(root: str | os.PathLike | None = None) -> ImageStore:
    """The store at ``root`` (default ``runtime.paths.subdir("images")``); one object per root per process."""
    if root is None:
        from runtime import paths

        root = paths.subdir("images")
    key = str(Path(root))
    store = _stores.get(key)
    if store is None:
        store = _stores[key] = ImageStore(key)
    return store
