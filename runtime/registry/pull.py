"""``vmvc pull``: an image from a registry into the store, every byte checked before it counts.

Steps, per endpoint (see :mod:`runtime.registry.endpoints` for which ones, and when to move on):
resolve the manifest (an index picks linux/amd64), fetch and verify the config (its digest is the image
id: an image the store has already is only tagged), then fetch the layers the store lacks three at a
time. Each layer is extracted as it arrives, in one pass (:mod:`runtime.registry.fetch`): its bytes
are hashed, kept in a download file (a download cut short is resumed with ``Range`` next time) and fed
through the store's checked ingest into a staging directory. Only when every layer's digest and diff
id check out does anything enter the store: the staged layers and the image go in together, atomically.
A failure, ``kill -9`` or Ctrl-C leaves the store as it was (resumable partial downloads are kept in
``downloads/``, outside any image; a dead pull's staging directory is removed by the next writer).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from runtime.errors import VmvcError
from runtime.images import reference
from runtime.images.store import Staging
from runtime.registry import endpoints as endpoint_rules
from runtime.registry import fetch
from runtime.registry import manifest as mf
from runtime.registry.errors import DigestMismatch, RegistryError, Unreachable, Unsupported
from runtime.registry.http import Endpoint

PARALLEL = 3
_DIFF_ID = re.compile(r"sha256:[0-9a-f]{64}")


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
    if not isinstance(diff_ids, list) or not all(isinstance(d, str) and _DIFF_ID.fullmatch(d)
                                                 for d in diff_ids):
        raise Unsupported("the image config's rootfs.diff_ids are not all sha256 digests")
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
    have_layers = {d for im in store.images() for d in im.diff_ids
                   if os.path.isdir(store.layer_dir(d))}
    todo: dict[str, dict] = {}
    for d, diff_id in zip(layers, diff_ids, strict=True):
        if diff_id in have_layers or diff_id in todo:  # the store has it (shared with an image), or twice
            emit({"status": "Already exists", "id": _short(d["digest"]), "endpoint": ep.url})
        else:
            emit({"status": "Pulling fs layer", "id": _short(d["digest"]), "endpoint": ep.url})
            todo[diff_id] = d
    sockets = fetch.Sockets()
    with store.staging() as stage, ThreadPoolExecutor(PARALLEL, thread_name_prefix="vmvc-pull") as pool:
        fetch.spread(stage.path)
        futures = {pool.submit(_layer, store, stage, i, ep, path, d, diff_id, downloads, scope, emit,
                               sockets): d for i, (diff_id, d) in enumerate(todo.items())}
        try:
            for fut in as_completed(futures):
                diff_id, staged = fut.result()
                stage.layers.setdefault(diff_id, staged)
                emit({"status": "Pull complete", "id": _short(futures[fut]["digest"]), "endpoint": ep.url})
        except BaseException:
            sockets.stop()  # the other layers stop at once, their partial downloads kept for a resume
            raise
        image = store.add(stage, list(diff_ids), config_bytes, [tag_ref] if tag_ref else [])
    for d in todo.values():  # verified downloads are kept until the image is in: a failed pull reuses them
        with contextlib.suppress(FileNotFoundError):
            os.unlink(fetch.blob_file(downloads, d)[0])
    return PullResult(image, full, top_digest, ep.url, True)


def _layer(store, stage, i: int, ep: Endpoint, path: str, desc: dict, diff_id: str, downloads: str,
           scope: str, emit, sockets: fetch.Sockets):
    """One layer into its own staging dir inside the pull's (layers stream in parallel, each extracting
    as it downloads); returns (diff id, staged layer) for the pull to commit with the image."""
    own = os.path.join(stage.path, f"fetch-{i}")
    os.mkdir(own, 0o700)
    sub = Staging(store, own)
    got = fetch.fetch_layer(ep, path, desc, diff_id, downloads, sub, scope, emit, sockets)
    return got, sub.layers[got]
