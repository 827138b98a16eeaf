"""Images in the JSON shapes of the Docker Engine API, for ``vmvc images --json``, ``image inspect``
and the daemon (``GET /images/json``, ``GET /images/{name}/json``): one definition for all of them.
"""

from __future__ import annotations

import calendar
import time

from runtime.images.store import Image, ImageStore


def epoch(iso: str) -> int:
    """``2026-01-01T00:00:00Z`` -> Unix seconds (0 if unreadable)."""
    try:
        return calendar.timegm(time.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return 0


def summary(store: ImageStore, image: Image) -> dict:
    """One entry of ``GET /images/json``."""
    return {"Id": image.id, "ParentId": "", "RepoTags": image.repo_tags or None, "RepoDigests": [],
            "Created": epoch(image.created), "Size": image.size, "SharedSize": -1, "Labels": None,
            "Containers": len(store.holders(image.id))}


def inspect(store: ImageStore, image: Image) -> dict:
    """``GET /images/{name}/json``."""
    return {"Id": image.id, "RepoTags": image.repo_tags, "RepoDigests": [], "Parent": "", "Comment": "",
            "Created": image.created, "Config": image.config, "Architecture": image.architecture,
            "Os": image.os, "Size": image.size,
            "GraphDriver": {"Name": "overlay2", "Data": {"LowerDir": ":".join(image.layer_dirs)}},
            "RootFS": {"Type": "layers", "Layers": image.diff_ids},
            "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"}, "Containers": store.holders(image.id)}
