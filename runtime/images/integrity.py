"""Damage in the image store: a broken index is rebuilt from the blobs; layer content is verified.

**The index.** ``index.json`` is written by rename and fsync'd, but a disk fault, a full disk in an
older version or a hand edit can still leave it truncated or garbage. A reader that finds it so
(:func:`read_index` raises :class:`Damaged`) does not crash: under the writer lock the store moves it
to ``quarantine/``, and :func:`rebuild` makes a new one from what is content-addressed and therefore
trustworthy: every manifest blob whose config blob and layer directories are present becomes an
image again. Tags live only in the index, so they come from the previous generation
(``index.prev.json``, kept at each write) when it is readable; otherwise the images are listed
untagged (``<none>``) and can be tagged again by id.

**Layers.** What a container sees is the layer directory; it is checked against what was imported:
- with a tar-split (the usual case) the layer tar is rebuilt from the directory and must hash to the
  layer's diff id (every regular file's bytes and size, see :mod:`runtime.images.tarsplit`);
- with the whole tar kept (a path repeated in the archive) the tar must hash to the diff id and each
  regular file in the directory must equal its last copy in the tar.
``vmvc image verify`` records the verdict in the index, and a container of an image with a layer
known to be damaged is refused at create (one line), instead of running or crashing on bad bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tarfile

from runtime.errors import VmvcError
from runtime.linux import safefs

MAX_INDEX = 256 << 20
MAX_JSON_BLOB = 16 << 20
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


class Damaged(ValueError):
    """The index is not JSON, or not the shape the store writes."""


def _strs(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def check_index(idx) -> dict:
    """``idx`` if it has the shape :class:`~runtime.images.store.ImageStore` writes; else :class:`Damaged`."""
    parts = ("images", "tags", "layers")
    if not isinstance(idx, dict) or not all(isinstance(idx.get(k), dict) for k in parts):
        raise Damaged("not an object with images, tags and layers")
    for image_id, rec in idx["images"].items():
        if not (isinstance(rec, dict) and _strs(rec.get("layers")) and _strs(rec.get("tags", []))
                and isinstance(rec.get("config", {}), dict)):
            raise Damaged(f"image {image_id[:19]} has a malformed record")
        if any(d not in idx["layers"] for d in rec["layers"]):
            raise Damaged(f"image {image_id[:19]} names a layer the index does not list")
    for diff_id, info in idx["layers"].items():
        if not (isinstance(info, dict) and isinstance(info.get("size"), int)
                and isinstance(info.get("blob_size"), int)):
            raise Damaged(f"layer {diff_id[:19]} has a malformed record")
    if not all(isinstance(v, str) and v in idx["images"] for v in idx["tags"].values()):
        raise Damaged("a tag names an image the index does not have")
    return idx


def read_index(path: str) -> dict:
    """The parsed, shape-checked index at ``path`` (``FileNotFoundError`` if there is none)."""
    raw = safefs.read_file(path, MAX_INDEX, follow=False)
    try:
        idx = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise Damaged(f"not valid JSON ({str(e)[:60]})") from None
    return check_index(idx)


def _json_blob(path: str):
    try:
        raw = safefs.read_file(path, MAX_JSON_BLOB, follow=False)
    except OSError:
        return None
    if not raw.startswith(b"{"):
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def content_size(layer_dir: str) -> int:
    """Bytes of regular-file content in a layer directory (what the index calls a layer's size)."""
    return sum(st.st_size for _, st in safefs.walk(layer_dir, paths=False) if stat.S_ISREG(st.st_mode))


def rebuild(store, previous: dict | None) -> dict:
    """A new index from the store's manifests, configs and layer dirs; tags from ``previous``."""
    images: dict = {}
    layers: dict = {}
    old_layers = (previous or {}).get("layers", {})
    for name in sorted(os.listdir(store.blobs)):
        manifest = _json_blob(os.path.join(store.blobs, name))
        if not (isinstance(manifest, dict) and manifest.get("mediaType") == MEDIA_MANIFEST):
            continue
        try:
            image_id = manifest["config"]["digest"]
            descs = manifest["layers"]
            config = _json_blob(store.blob_path(image_id))
            diff_ids = config["rootfs"]["diff_ids"]
            sizes = [int(d["size"]) for d in descs]
        except (KeyError, TypeError, ValueError):
            continue
        if not (_strs(diff_ids) and len(sizes) == len(diff_ids)
                and all(os.path.isdir(store.layer_dir(d)) for d in diff_ids)):
            continue
        for diff_id, blob_size in zip(diff_ids, sizes, strict=True):
            if diff_id not in layers:
                old = old_layers.get(diff_id)
                layers[diff_id] = dict(old) if isinstance(old, dict) else {
                    "size": content_size(store.layer_dir(diff_id)), "blob_size": blob_size}
        inner = config.get("config") if isinstance(config.get("config"), dict) else {}
        images[image_id] = {"tags": [], "layers": diff_ids, "config": inner,
                            "manifest": "sha256:" + name, "created": str(config.get("created") or ""),
                            "architecture": str(config.get("architecture") or ""),
                            "os": str(config.get("os") or ""),
                            "size": sum(layers[d]["size"] for d in diff_ids)}
    tags = {}
    for tag, image_id in ((previous or {}).get("tags") or {}).items():
        if image_id in images:
            tags[tag] = image_id
            images[image_id]["tags"].append(tag)
    return {"images": images, "tags": tags, "layers": layers}


# -- layer content ----------------------------------------------------------------------------------
def verify_layer(store, diff_id: str) -> str | None:
    """None if the layer's directory still holds what was imported; else what is wrong, in words."""
    layer_dir = store.layer_dir(diff_id)
    if not os.path.isdir(layer_dir):
        return "its directory is missing"
    split, blob = store.tarsplit_path(diff_id), store.blob_path(diff_id)
    try:
        if os.path.exists(split):
            from runtime.images import tarsplit

            with tarsplit.Reader(split, layer_dir, diff_id) as reader:
                while reader.read(1 << 20):
                    pass
                reader.verify()
        elif os.path.exists(blob):
            return _verify_with_blob(blob, layer_dir, diff_id)
        else:
            return "neither its tar nor its tar-split is kept"
    except VmvcError as e:
        return str(e).removeprefix(f"layer {diff_id}").lstrip(": ") or "content differs"
    except OSError as e:
        return f"cannot be read: {e.strerror or e}"
    return None


def _verify_with_blob(blob: str, layer_dir: str, diff_id: str) -> str | None:
    from runtime.images.layers import WHITEOUT, LimitedTarInfo

    sha = hashlib.sha256()
    with safefs.open_regular(blob) as f:
        while chunk := f.read(1 << 20):
            sha.update(chunk)
    if "sha256:" + sha.hexdigest() != diff_id:
        return "its kept tar no longer hashes to its diff id"
    last: dict[str, tuple[int, int]] = {}
    with tarfile.open(blob, mode="r:", tarinfo=LimitedTarInfo) as tf:
        for m in tf:
            tf.members.clear()
            name = "/".join(p for p in m.name.split("/") if p not in ("", "."))
            if m.isreg() and not os.path.basename(name).startswith(WHITEOUT):
                last[name] = (m.offset_data, m.size)
            else:
                last.pop(name, None)
    with open(blob, "rb") as tar:
        for name, (offset, size) in last.items():
            try:
                with safefs.open_beneath(layer_dir, name) as f:
                    tar.seek(offset)
                    left = size
                    while left:
                        want = tar.read(min(left, 1 << 20))
                        if f.read(len(want)) != want:
                            return f"{name}: content differs"
                        left -= len(want)
                    if f.read(1):
                        return f"{name}: content differs (longer)"
            except OSError as e:
                return f"{name}: {e.strerror or e}"
    return None
