"""Manifests: the media types a pull accepts, and picking linux/amd64 out of an index."""

from __future__ import annotations

import json

from runtime.registry.errors import Unsupported

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
ACCEPT = ", ".join([OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST])
INDEXES = (OCI_INDEX, DOCKER_LIST)
MANIFESTS = (OCI_MANIFEST, DOCKER_MANIFEST)
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
LAYER_TYPES = {OCI_LAYER, OCI_LAYER_GZIP, "application/vnd.oci.image.layer.v1.tar+zstd",
               "application/vnd.docker.image.rootfs.diff.tar.gzip",
               "application/vnd.docker.image.rootfs.diff.tar"}


def parse(raw: bytes, content_type: str) -> dict:
    try:
        doc = json.loads(raw)
    except ValueError:
        raise Unsupported("the registry sent a manifest that is not JSON") from None
    if not isinstance(doc, dict):
        raise Unsupported("the registry sent a manifest that is not a JSON object")
    media = doc.get("mediaType") or content_type.split(";")[0].strip()
    if media not in INDEXES + MANIFESTS:
        if doc.get("schemaVersion") == 1:
            raise Unsupported("schema 1 manifests are not supported (the image is too old)")
        raise Unsupported(f"unsupported manifest media type {media!r}")
    doc["mediaType"] = media
    return doc


def pick_platform(index: dict, os_: str = "linux", arch: str = "amd64") -> dict:
    entries = index.get("manifests")
    if not isinstance(entries, list) or not all(
            isinstance(m, dict) and isinstance(m.get("digest"), str)
            and isinstance(m.get("platform") or {}, dict) for m in entries):
        raise Unsupported("the index has no valid manifest list")
    for m in entries:
        p = m.get("platform") or {}
        if p.get("os") == os_ and p.get("architecture") == arch:
            return m
    have = sorted({f"{(m.get('platform') or {}).get('os')}/{(m.get('platform') or {}).get('architecture')}"
                   for m in index.get("manifests") or []})
    raise Unsupported(f"no matching manifest for {os_}/{arch} in the manifest list entries "
                      f"(it has {', '.join(have) or 'none'})")


def layers(manifest: dict) -> list[dict]:
    out = manifest.get("layers")
    if not isinstance(out, list) or not all(isinstance(layer, dict) and "digest" in layer for layer in out):
        raise Unsupported("the manifest has no valid layer list")
    for layer in out:
        if layer.get("mediaType") not in LAYER_TYPES:
            raise Unsupported(f"unsupported layer media type {layer.get('mediaType')!r}")
    return out
