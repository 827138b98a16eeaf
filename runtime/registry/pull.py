"""``vmvc pull``: an image from a registry into the store, every byte checked before it counts.

Steps, per endpoint (see :mod:`runtime.registry.endpoints` for which ones, and when to move on):
resolve the manifest (an index picks linux/amd64), fetch and verify the config (its digest is the image
id: an image the store has already is only tagged), then fetch the layers three at a time. Each layer
streams into a download file while its sha256 is computed; a download cut short is resumed with
``Range`` next time; a layer is extracted (through the store's checked ingest) as soon as it is
complete and verified, while the others still download. Only when every layer and the config agree
(``rootfs.diff_ids``) does the image enter the store's index: a failure, ``kill -9`` or Ctrl-C leaves
the store as it was (resumable partial downloads are kept in ``downloads/``, outside any image).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from runtime.errors import VmvcError
from runtime.images import reference
from runtime.registry import endpoints as endpoint_rules
from runtime.registry import manifest as mf
from runtime.registry.errors import DigestMismatch, RegistryError, Unreachable, Unsupported
from runtime.registry.http import Endpoint

PARALLEL = 3
CHUNK = 1 << 20


@dataclass
class PullResult:
    image: object
    reference: str
    digest: str  # the manifest's digest, as "Digest:" prints it
    endpoint: str
    new: bool
    tried: list = field(default_factory=list)  # [(endpoint url, error text)] before the one that served


def _short(digest: str) -> str:
    return digest.partition(":")[2][:12]


def _check_digest(data: bytes, digest: str) -> None:
    algo, _, want = digest.partition(":")
    if algo != "sha256" or hashlib.sha256(data).hexdigest() != want:
        raise DigestMismatch(f"digest mismatch: content does not match {digest}")


def split_ref(ref: str) -> tuple[str, str, str, str | None]:
    """``(domain, repository, tag, digest)``; ``name@sha256:…`` pulls by digest."""
    name, at, digest = ref.partition("@")
    if at and not (digest.startswith("sha256:") and len(digest) == 71):
        raise VmvcError(f"invalid reference format: {ref!r}")
    domain, path, tag = reference.split(name)
    return domain, path, tag, digest or None


def pull(store, ref: str, *, config: dict | None = None, progress=None,
         endpoints: list[Endpoint] | None = None, credentials: tuple[str, str] | None = None) -> PullResult:
    """Pull ``ref`` (``name[:tag]`` or ``name@sha256:…``) into ``store``; ``progress(event)`` gets
    docker-style progress dicts (``status``, ``id``, ``progressDetail``), each with the ``endpoint``."""
    domain, path, tag, digest = split_ref(ref)
    emit = progress or (lambda ev: None)
    full = f"{domain}/{path}:{tag}"
    tried: list[tuple[str, str]] = []
    candidates = endpoints if endpoints is not None else endpoint_rules.for_pull(domain, config)
    last: Exception | None = None
    quiet = False
    for i, ep in enumerate(candidates):
        if credentials:
            ep.creds = credentials
        try:
            result = _pull_from(store, ep, path, tag, digest, full, emit, announce=not quiet)
            result.tried = tried
            return result
        except (RegistryError, Unsupported) as e:
            last = e
            tried.append((ep.url, str(e)))
            go_on = endpoint_rules.go_on(e, ep) and i + 1 < len(candidates)
            # an insecure registry's HTTPS try that found plain HTTP: dockerd falls back without a word
            quiet = go_on and isinstance(e, Unreachable) and ep.scheme == "https" and \
                (candidates[i + 1].scheme, candidates[i + 1].host) == ("http", ep.host)
            if quiet:
                continue
            emit({"status": f"{ep.url} failed: {e}" + ("; trying the next endpoint" if go_on else ""),
                  "endpoint": ep.url, "error_kind": type(e).__name__})
            if not go_on:
                break
        finally:
            ep.close()
    repo = reference.familiar(full).rsplit(":", 1)[0]
    shown = f"{repo}@{digest}" if digest else reference.familiar(full)
    if isinstance(last, RegistryError) and last.status == 404:
        raise VmvcError(f"pull access denied for {repo}, repository does not exist or may require "
                        f"'vmvc login': manifest unknown ({last.endpoint})")
    raise VmvcError(f"pull of {shown} failed: {last}") if last else VmvcError(f"no endpoint to pull {shown}")


def _manifest(ep: Endpoint, path: str, ref: str, scope: str) -> tuple[dict, bytes, str]:
    resp, raw = ep.request("GET", f"/v2/{path}/manifests/{ref}", {"Accept": mf.ACCEPT}, scope=scope)
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    for claimed in (ref if ref.startswith("sha256:") else None, resp.getheader("Docker-Content-Digest")):
        if claimed and claimed != digest:  # the "Digest:" line shown must be the bytes' own
            raise DigestMismatch(f"digest mismatch: the manifest is {digest}, not {claimed}", endpoint=ep.url)
    return mf.parse(raw, resp.getheader("Content-Type") or ""), raw, digest


def _pull_from(store, ep: Endpoint, path: str, tag: str, digest: str | None, full: str, emit,
               announce: bool = True) -> PullResult:
    scope = f"repository:{path}:pull"
    if announce:
        emit({"status": f"Pulling from {path}", "id": digest or tag, "endpoint": ep.url})
    doc, raw, top_digest = _manifest(ep, path, digest or tag, scope)
    if doc["mediaType"] in mf.INDEXES:
        chosen = mf.pick_platform(doc)
        doc, raw, _ = _manifest(ep, path, chosen["digest"], scope)
        if doc["mediaType"] not in mf.MANIFESTS:
            raise Unsupported("an index inside an index is not supported")
    layers = mf.layers(doc)
    cfg_desc = doc.get("config")
    if not isinstance(cfg_desc, dict) or not isinstance(cfg_desc.get("digest"), str):
        raise Unsupported("the manifest has no valid config descriptor")
    _, config_bytes = ep.request("GET", f"/v2/{path}/blobs/{cfg_desc.get('digest', '')}", scope=scope)
    _check_digest(config_bytes, cfg_desc.get("digest", ""))
    try:
        diff_ids = json.loads(config_bytes)["rootfs"]["diff_ids"]
    except (ValueError, KeyError, TypeError):
        raise Unsupported("the image config has no rootfs.diff_ids") from None
    if len(diff_ids) != len(layers):
        raise Unsupported(f"the manifest lists {len(layers)} layers but the config {len(diff_ids)}")
    tag_ref = full if not digest else None
    image_id = cfg_desc["digest"]
    have = store.find(image_id)
    if have is not None:
        for d in layers:
            emit({"status": "Already exists", "id": _short(d["digest"]), "endpoint": ep.url})
        if tag_ref:
            store.tag(image_id, tag_ref)
        return PullResult(store.find(image_id), full, top_digest, ep.url, False)
    downloads = os.path.join(store.root, "downloads")
    os.makedirs(downloads, mode=0o700, exist_ok=True)
    for d in layers:
        emit({"status": "Pulling fs layer", "id": _short(d["digest"]), "endpoint": ep.url})
    cancel = threading.Event()
    by_digest: dict[str, str] = {}
    with store.staging() as stage, ThreadPoolExecutor(PARALLEL, thread_name_prefix="vmvc-pull") as pool:
        futures = {pool.submit(_download, ep, path, d, downloads, scope, emit, cancel): d for d in layers}
        try:
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    d = futures[fut]
                    file = fut.result()
                    emit({"status": "Extracting", "id": _short(d["digest"]), "endpoint": ep.url})
                    try:
                        with open(file, "rb") as f:
                            by_digest[d["digest"]] = stage.add_layer(f)
                    except BaseException:
                        os.unlink(file)  # verified but refused (unsafe entries): nothing to resume from
                        raise
                    emit({"status": "Pull complete", "id": _short(d["digest"]), "endpoint": ep.url})
        except BaseException:
            cancel.set()
            raise
        got = [by_digest[d["digest"]] for d in layers]
        if got != diff_ids:
            raise DigestMismatch("the layers do not match the image config's rootfs.diff_ids")
        image = store.add(stage, got, config_bytes, [tag_ref] if tag_ref else [])
    for d in layers:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(downloads, d["digest"].partition(":")[2]))
    return PullResult(image, full, top_digest, ep.url, True)


def _download(ep: Endpoint, path: str, desc: dict, downloads: str, scope: str, emit, cancel) -> str:
    """The blob into ``downloads/<hex>`` (resuming a partial one), verified; returns the file."""
    digest = desc["digest"]
    algo, _, hexd = digest.partition(":")
    if algo != "sha256" or len(hexd) != 64 or not all(c in "0123456789abcdef" for c in hexd):
        raise Unsupported(f"unsupported layer digest {digest!r}")
    file = os.path.join(downloads, hexd)
    total = desc.get("size")
    if not isinstance(total, int) or isinstance(total, bool) or total <= 0:
        raise Unsupported(f"the manifest gives layer {hexd[:12]} no valid size ({total!r})")
    h = hashlib.sha256()
    have = 0
    if os.path.exists(file):
        with open(file, "rb") as f:
            while chunk := f.read(CHUNK):
                h.update(chunk)
                have += len(chunk)
    short = hexd[:12]
    if not (total and have == total and h.hexdigest() == hexd):
        headers = {"Range": f"bytes={have}-"} if have else {}
        resp = ep.request("GET", f"/v2/{path}/blobs/{digest}", headers, scope=scope, ok=(200, 206),
                          stream=True)
        if resp.status == 200 and have:  # the server ignored Range: start over
            h, have = hashlib.sha256(), 0
            open(file, "wb").close()
        with resp, open(file, "ab") as out:
            while True:
                if cancel.is_set():
                    raise VmvcError("pull cancelled")
                if have > total:  # more than the manifest promised: never fill the disk
                    break
                try:
                    chunk = resp.read(min(CHUNK, total + 1 - have))
                except (OSError, http.client.HTTPException):
                    chunk = b""  # the connection dropped: what arrived is kept for a resume
                if not chunk:
                    break
                out.write(chunk)
                h.update(chunk)
                have += len(chunk)
                emit({"status": "Downloading", "id": short, "endpoint": ep.url,
                      "progressDetail": {"current": have, "total": total}})
    if total and have < total:
        raise Unreachable(f"download of layer {short} cut short at {have} of {total} bytes (pull again to "
                          f"resume)", endpoint=ep.url)
    emit({"status": "Verifying Checksum", "id": short, "endpoint": ep.url})
    if h.hexdigest() != hexd or (total and have != total):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(file)  # bad bytes are never resumed from
        raise DigestMismatch(f"digest mismatch for layer {digest}: got sha256:{h.hexdigest()} ({have} bytes)",
                             endpoint=ep.url)
    emit({"status": "Download complete", "id": short, "endpoint": ep.url})
    return file
