"""``create``: make a container's directory from a :class:`Spec` and an image; nothing runs yet.

Runs inside the spawner (which has the image store imported and warm) when called through
:meth:`Engine.create <runtime.containers.engine.Engine.create>`, so a ``vmvc run`` CLI process never
imports the image store. On any error everything made so far is removed again.
"""

from __future__ import annotations

import os

from runtime.containers.spec import Spec, etc_files, process
from runtime.containers.state import Containers, now, write_json

_ADJECTIVES = (
    "brave",
    "calm",
    "eager",
    "fast",
    "gentle",
    "happy",
    "keen",
    "lucid",
    "nimble",
    "quiet",
    "sharp",
    "tidy",
    "vivid",
    "witty",
    "zen",
)
_NAMES = (
    "babbage",
    "curie",
    "dijkstra",
    "euler",
    "hopper",
    "kernighan",
    "lamport",
    "lovelace",
    "noether",
    "ritchie",
    "shannon",
    "thompson",
    "torvalds",
    "turing",
    "wirth",
)


def random_name(cid: str) -> str:
    """docker-style ``adjective_scientist`` plus 4 hex digits of the id (so names rarely clash)."""
    a, b = os.urandom(2)
    return f"{_ADJECTIVES[a % len(_ADJECTIVES)]}_{_NAMES[b % len(_NAMES)]}_{cid[:4]}"


SLOT_PREFIX = ".slot-"


def make_slot(table: Containers) -> str:
    """A container directory made ahead of time (by the spawner when idle): an id, ``work/`` and an
    upper dir with ``/etc/hostname`` and ``/etc/hosts`` for the default hostname. A create that
    fits it only renames it into place: five fewer mkdirs and file writes on the start path."""
    cid = table.new_id()
    slot = os.path.join(table.root, SLOT_PREFIX + cid)
    os.mkdir(slot, 0o700)  # root only: its upper dir may come to hold setuid files and secrets
    _fill(slot, cid[:12], with_etc=True)
    return slot


def _fill(d: str, hostname: str, with_etc: bool) -> None:
    os.mkdir(os.path.join(d, "work"))
    if not with_etc:
        os.mkdir(os.path.join(d, "upper"))
        return
    os.makedirs(os.path.join(d, "upper", "etc"))
    for rel, text in etc_files(hostname).items():
        with open(os.path.join(d, "upper", rel), "w") as f:
            f.write(text)


def _init_volume(table: Containers, spec: Spec) -> list[dict]:
    """``--init``: the tiny init program, bind-mounted read-only where the process expects it."""
    if not spec.init:
        return []
    from runtime.containers import tinyinit

    host = tinyinit.ensure(os.path.dirname(table.root.rstrip("/")))
    return [{"host": host, "container": tinyinit.PATH, "readonly": True}]


def create(table: Containers, spec: Spec, store, slot: str | None = None) -> str:
    """Resolve the image, reserve the name, write ``config.json`` and the upper dir; returns the id.
    ``slot`` (from :func:`make_slot`) is used when the spec keeps the default hostname and its own
    network; otherwise it is left alone for the caller to reuse."""
    if spec.storage_opt:
        from runtime.containers import storage

        storage.check(spec.storage_opt, table.root)
    if spec.memory or spec.cpus or spec.pids_limit or spec.network == "host":
        from runtime.rootless import refuse_unsupported  # rootless mode cannot have these here

        refuse_unsupported(spec.memory, spec.cpus, spec.pids_limit, spec.network)
    image = store.resolve(spec.image)
    store.check_intact(image, spec.image)
    proc = process(spec, image.config)
    use_slot = slot is not None and spec.hostname is None and spec.network != "host"
    cid = os.path.basename(slot)[len(SLOT_PREFIX) :] if use_slot else table.new_id()
    name = spec.name or random_name(cid)
    table.reserve_name(name, cid)
    d = table.dir(cid)
    hostname = spec.hostname or cid[:12]
    try:
        if use_slot:
            os.rename(slot, d)
        else:
            os.mkdir(d, 0o700)
            _fill(d, hostname, with_etc=spec.network != "host")
        config = {
            "id": cid,
            "name": name,
            "created": now(),
            "image": spec.image,
            "image_id": image.id,
            "layers": list(image.layer_dirs),
            "process": proc,
            "hostname": hostname,
            "network": spec.network,
            "tty": spec.tty,
            "stdin": spec.stdin,
            "auto_remove": spec.auto_remove,
            "labels": dict(spec.labels),
            "volumes": [v._asdict() for v in spec.volumes] + _init_volume(table, spec),
            "limits": {"memory": spec.memory, "cpus": spec.cpus, "pids": spec.pids_limit},
            "spec": spec.to_dict(),
        }
        write_json(os.path.join(d, "config.json"), config)  # no state.json yet means "created"
        store.hold(image.id, cid)
    except BaseException:
        table.delete(cid)
        table.release_name(name, cid)
        raise
    return cid
