"""Which images are a build's steps: ``docker images`` hides them unless ``-a``, as dockerd hides
untagged images that have children. One rule for the direct ``vmvc images`` and the daemon's
``GET /images/json``, so both front ends list the same rows."""

from __future__ import annotations

import json


def hidden(store, found) -> set[str]:
    """Ids of the untagged images in ``found`` another image there was built on. A child starts with
    its parent's history and layers and has more history (vmvc keeps no parent pointer, as the image
    config has none)."""
    untagged = [i for i in found if not i.tags]
    if not untagged:
        return set()
    history = {}
    for i in found:
        try:
            history[i.id] = json.loads(store.config_blob(i)).get("history") or []
        except (OSError, ValueError):
            history[i.id] = []
    out = set()
    for parent in untagged:
        h, layers = history[parent.id], parent.diff_ids
        if not h:
            continue
        if any(len(history[c.id]) > len(h) and history[c.id][:len(h)] == h
               and c.diff_ids[:len(layers)] == layers for c in found if c.id != parent.id):
            out.add(parent.id)
    return out
