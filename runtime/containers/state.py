"""Containers on disk: one directory per container, written atomically, readable by anyone.

Layout under ``runtime.paths.subdir("containers")``::

    <id>/config.json       what was created (spec, image, process, rootfs layers); written once
    <id>/state.json        status, pid, exit code, OOMKilled, times; replaced by rename (absent: created)
    <id>/<id>-json.log     output, docker's json-file format
    <id>/upper, work       the overlay's writable layer and overlayfs' work dir
    .rootfs/               the mountpoint every container's overlay is mounted on, each in its own
                           mount namespace (so one empty directory serves them all)
    names/<name>           the id owning a name (created with O_EXCL: no two containers share one)
    spawner.sock/.lock     the spawner's socket, and the flock it holds while alive

Until a container starts, the engine library writes its state; from start on only the spawner
does, so there is one writer per phase and readers (``ps``, ``inspect``) never need a lock.
"""

from __future__ import annotations

import os
import time
import zlib

from runtime.errors import Conflict, NotFound

CREATED, RUNNING, EXITED = "created", "running", "exited"
INITIAL = {
    "status": CREATED,
    "pid": 0,
    "exit_code": 0,
    "oom_killed": False,
    "started_at": "",
    "finished_at": "",
    "error": "",
    "cgroup": "",
}


def now() -> str:
    """RFC 3339 with nanoseconds, UTC, as docker writes times."""
    ns = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 1_000_000_000)) + f".{ns % 10**9:09d}Z"


def write_json(path: str, data: dict) -> None:
    """Write-then-rename: readers see the old or the new file, never half of one."""
    import json  # here, not at the top: the CLI's ``run`` path never reads or writes state files

    tmp = f"{path}.tmp{os.getpid()}"
    text = json.dumps(data)  # dumps: the C encoder; dump streams through the pure-Python one
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def read_json(path: str) -> dict:
    import json

    with open(path) as f:
        return json.load(f)


class Record:
    """One container as stored: its config (fixed) and its state (changing)."""

    __slots__ = ("config", "state")

    def __init__(self, config: dict, state: dict) -> None:
        self.config, self.state = config, state

    @property
    def id(self) -> str:
        return self.config["id"]

    @property
    def name(self) -> str:
        return self.config["name"]

    @property
    def status(self) -> str:
        return self.state["status"]

    @property
    def running(self) -> bool:
        return self.state["status"] == RUNNING


class Containers:
    """The on-disk table of containers under one state root."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = os.path.abspath(root)  # plain strings: ``vmvc run`` does not import pathlib
        self.names_dir = os.path.join(self.root, "names")

    # -- paths ----------------------------------------------------------------------------------
    def dir(self, cid: str, *parts: str) -> str:
        return os.path.join(self.root, cid, *parts)

    def log_path(self, cid: str) -> str:
        return os.path.join(self.root, cid, f"{cid}-json.log")

    @property
    def mountpoint(self) -> str:
        path = os.path.join(self.root, ".rootfs")
        os.makedirs(path, exist_ok=True)
        return path

    @property
    def images_root(self) -> str:
        """The image store beside this containers dir (``$VMVC_ROOT/images``)."""
        return os.path.join(os.path.dirname(self.root.rstrip("/")), "images")

    @property
    def socket_path(self) -> str:
        return os.path.join(self.root, "spawner.sock")

    @property
    def lock_path(self) -> str:
        return os.path.join(self.root, "spawner.lock")

    def cgroup_prefix(self) -> str:
        """``vmvc-<tag>-``: cgroups of this state root (two roots never touch each other's)."""
        return f"vmvc-{zlib.crc32(os.path.realpath(self.root).encode()):08x}-"

    # -- reading --------------------------------------------------------------------------------
    def ids(self) -> list[str]:
        try:
            return [n for n in os.listdir(self.root) if len(n) == 64]
        except FileNotFoundError:
            return []

    def load(self, cid: str) -> Record:
        d = self.dir(cid)
        try:
            config = read_json(os.path.join(d, "config.json"))
        except FileNotFoundError:
            raise NotFound(f"No such container: {cid}") from None
        try:
            state = read_json(os.path.join(d, "state.json"))
        except FileNotFoundError:
            state = dict(INITIAL)
        return Record(config, state)

    def all(self) -> list[Record]:
        found = []
        for cid in self.ids():
            try:
                found.append(self.load(cid))
            except (NotFound, ValueError):
                continue  # being created or removed right now
        return sorted(found, key=lambda r: r.config["created"], reverse=True)

    def resolve(self, ref: str) -> str:
        """A name, full id or unique id prefix -> full id."""
        ref = ref.lstrip("/")
        try:
            with open(os.path.join(self.names_dir, ref)) as f:
                return f.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError, OSError):
            pass
        if ref and all(c in "0123456789abcdef" for c in ref):
            hits = [cid for cid in self.ids() if cid.startswith(ref)]
            if len(hits) == 1:
                return hits[0]
            if len(hits) > 1:
                raise NotFound(f"Multiple IDs found with provided prefix: {ref}")
        raise NotFound(f"No such container: {ref}")

    def get(self, ref: str) -> Record:
        return self.load(self.resolve(ref))

    # -- writing --------------------------------------------------------------------------------
    def new_id(self) -> str:
        return os.urandom(32).hex()

    def reserve_name(self, name: str, cid: str) -> None:
        os.makedirs(self.names_dir, exist_ok=True)
        try:
            fd = os.open(os.path.join(self.names_dir, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            with open(os.path.join(self.names_dir, name)) as f:
                owner = f.read()
            raise Conflict(
                f'Conflict. The container name "/{name}" is already in use by container '
                f'"{owner}". You have to remove (or rename) that container to be able to '
                "reuse that name."
            ) from None
        with os.fdopen(fd, "w") as f:
            f.write(cid)

    def release_name(self, name: str, cid: str) -> None:
        path = os.path.join(self.names_dir, name)
        try:
            with open(path) as f:
                owner = f.read()
            if owner == cid:
                os.unlink(path)
        except FileNotFoundError:
            pass

    def write_state(self, cid: str, state: dict) -> None:
        write_json(self.dir(cid, "state.json"), state)

    def delete(self, cid: str) -> None:
        """Forget a container: its name, its image hold, its directory (upper layer and logs)."""
        trash = self.forget(cid)
        if trash:
            self.purge(trash)

    def forget(self, cid: str) -> str | None:
        """The fast half of :meth:`delete`: release name and image, rename the directory away.
        Returns the renamed directory for :meth:`purge`."""
        try:
            config = read_json(self.dir(cid, "config.json"))
        except FileNotFoundError:
            config = {}
        if config.get("name"):
            self.release_name(config["name"], cid)
        if config.get("image_id"):
            from runtime.images import open_store

            open_store(self.images_root).release(config["image_id"], cid)
        trash = os.path.join(
            self.root, f".rm-{cid}"
        )  # rename first: a half-deleted dir never looks like a container
        try:
            os.rename(self.dir(cid), trash)
        except FileNotFoundError:
            return None
        return trash

    def purge(self, trash: str) -> None:
        from runtime.containers.janitor import purge

        purge(trash)
