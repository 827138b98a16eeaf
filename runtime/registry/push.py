"""``vmvc push``: a local image to a registry, sending nothing the registry already has.

Each layer goes up as the uncompressed tar the store regenerates (its digest is the layer's diff id,
so what the registry stores is checkable against the image config), after a ``HEAD`` that skips blobs
the repository has, and a cross-repository mount when another tag of the image lives in the same
registry. Then the config, then an OCI manifest under the tag. Push never uses mirrors.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass

from runtime.errors import VmvcError
from runtime.images import reference
from runtime.registry import endpoints as endpoint_rules
from runtime.registry import manifest as mf
from runtime.registry.errors import RegistryError, Unreachable


@dataclass
class PushResult:
    reference: str
    digest: str
    size: int
    endpoint: str
    sent: int  # blobs uploaded
    skipped: int  # blobs the registry had or mounted


def push(store, ref: str, *, config: dict | None = None, progress=None,
         credentials: tuple[str, str] | None = None) -> PushResult:
    """Push ``ref``; ``credentials`` (a daemon's client's ``X-Registry-Auth``) win over config.json's."""
    emit = progress or (lambda ev: None)
    image = store.find(ref)
    if image is None:
        raise VmvcError(f"An image does not exist locally with the tag: {reference.familiar(ref)}")
    domain, path, tag = reference.split(ref)
    emit({"status": f"The push refers to repository [{domain}/{path}]"})
    last = None
    for ep in endpoint_rules.for_push(domain, config):
        if credentials:
            ep.creds = credentials
        try:
            return _push_to(store, image, ep, domain, path, tag, emit)
        except Unreachable as e:  # https refused on an insecure host: its http endpoint is next
            last = e
        finally:
            ep.close()
    raise VmvcError(f"push of {reference.familiar(ref)} failed: {last}")


def _push_to(store, image, ep, domain: str, path: str, tag: str, emit) -> PushResult:
    scope = f"repository:{path}:pull,push"
    others = [reference.split(t)[1] for t in image.repo_tags
              if reference.split(t)[0] == domain and reference.split(t)[1] != path]
    sent = skipped = 0
    descs = []
    for diff_id in image.diff_ids:
        size = store.layer_tar_size(diff_id)
        short = diff_id.partition(":")[2][:12]
        if _exists(ep, path, diff_id, scope) or _mount(ep, path, diff_id, others, scope):
            emit({"status": "Layer already exists", "id": short, "endpoint": ep.url})
            skipped += 1
        else:
            emit({"status": "Pushing", "id": short, "progressDetail": {"current": 0, "total": size}})
            with store.open_layer_tar(diff_id) as f:
                _upload(ep, path, diff_id, f, size, scope)
            emit({"status": "Pushed", "id": short, "endpoint": ep.url})
            sent += 1
        descs.append({"mediaType": mf.OCI_LAYER, "digest": diff_id, "size": size})
    config_bytes = store.config_blob(image)
    if not _exists(ep, path, image.id, scope):
        _upload(ep, path, image.id, config_bytes, len(config_bytes), scope)
        sent += 1
    else:
        skipped += 1
    body = json.dumps({"schemaVersion": 2, "mediaType": mf.OCI_MANIFEST,
                       "config": {"mediaType": mf.OCI_CONFIG, "digest": image.id, "size": len(config_bytes)},
                       "layers": descs}, separators=(",", ":")).encode()
    resp, _ = ep.request("PUT", f"/v2/{path}/manifests/{tag}", {"Content-Type": mf.OCI_MANIFEST}, body,
                         scope=scope, ok=(201, 200))
    import hashlib

    digest = resp.getheader("Docker-Content-Digest") or "sha256:" + hashlib.sha256(body).hexdigest()
    emit({"status": f"{tag}: digest: {digest} size: {len(body)}", "endpoint": ep.url})
    return PushResult(f"{domain}/{path}:{tag}", digest, len(body), ep.url, sent, skipped)


def _exists(ep, path: str, digest: str, scope: str) -> bool:
    try:
        ep.request("HEAD", f"/v2/{path}/blobs/{digest}", scope=scope)
        return True
    except RegistryError as e:
        if e.status == 404:
            return False
        raise


def _mount(ep, path: str, digest: str, others: list[str], scope: str) -> bool:
    for other in others:
        q = urllib.parse.urlencode({"mount": digest, "from": other})
        try:
            resp, _ = ep.request("POST", f"/v2/{path}/blobs/uploads/?{q}", {"Content-Length": "0"}, b"",
                                 scope=scope, ok=(201, 202))
        except RegistryError:
            continue
        if resp.status == 201:
            return True
        _cancel(ep, resp.getheader("Location"), scope)
    return False


def _cancel(ep, location: str | None, scope: str) -> None:
    if location:
        try:
            ep.request("DELETE", location, scope=scope, ok=(204, 200, 404))
        except RegistryError:
            pass


def _upload(ep, path: str, digest: str, body, size: int, scope: str) -> None:
    resp, _ = ep.request("POST", f"/v2/{path}/blobs/uploads/", {"Content-Length": "0"}, b"", scope=scope,
                         ok=(202,))
    location = resp.getheader("Location")
    if not location:
        raise RegistryError(f"{ep.url}: no upload location", resp.status, "", ep.url)
    sep = "&" if "?" in location else "?"
    ep.request("PUT", f"{location}{sep}digest={urllib.parse.quote(digest)}",
               {"Content-Length": str(size), "Content-Type": "application/octet-stream"}, body, scope=scope,
               ok=(201,))
