"""Containers on disk: one directory per container, written atomically, readable by root only.

Layout under ``runtime.paths.subdir("containers")``::

    <id>/config.json       what was created (spec, image, process, rootfs layers); written once
    <id>/state.json        status, pid, exit code, OOMKilled, times; replaced by rename (absent: created)
    <id>/<id>-json.log     output, docker's json-file format
    <id>/upper, work       the overlay's writable layer and overlayfs' work dir
    .rootfs/               the mountpoint every container's overlay is mounted on, each in its own
                           mount namespace (so one empty directory serves them all)
    names/<name>           the id owning a name (created with O_EXCL: no two containers share one)
    spawner.sock/.lock     the spawner's socket, and the flock it holds while alive
    .quarantine/           damaged records moved aside (see below)

Until a container starts, the engine library writes its state; from start on only the spawner
does, so there is one writer per phase and readers (``ps``, ``inspect``) never need a lock.

Writes are write-to-temp then rename (a crash leaves the old file or the new one, never half of
one; the files hold environment secrets, so they are 0600); off the start path they are fsync'd
too. A record that is damaged anyway (a disk fault, a truncated copy, a hand edit) must not take
``ps -a``, ``rm`` or recovery down with it: a damaged ``config.json`` moves the whole container
directory to ``.quarantine/`` (its name and image hold are released); a damaged ``state.json`` is
moved there alone and replaced by an "exited" state saying so. Either way one line on stderr says
what moved where, and every other record stays usable.
"""

from __future__ import annotations

import os
import sys
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


def now(ns: int | None = None) -> str:
    """RFC 3339 with nanoseconds, UTC, as docker writes times (of ``ns`` since the epoch if given)."""
    ns = time.time_ns() if ns is None else ns
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 1_000_000_000)) + f".{ns % 10**9:09d}Z"


def write_json(path: str, data: dict, durable: bool = False) -> None:
    """Write-then-rename: readers see the old or the new file, never half of one. 0600: records hold
    the container's environment (secrets). ``durable`` adds an fsync (~2 ms on this host's ext4: too
    much for the start path, where a record torn by a power cut is quarantined on the next read)."""
    import json  # here, not at the top: the CLI's ``run`` path never reads or writes state files

    tmp = f"{path}.tmp{os.getpid()}"
    text = json.dumps(data)  # dumps: the C encoder; dump streams through the pure-Python one
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        if durable:
            f.flush()
            os.fsync(fd)
    os.replace(tmp, path)


def read_json(path: str) -> dict:
    import json

    with open(path, "rb") as f:
        return json.loads(f.read(MAX_RECORD + 1))


MAX_RECORD = 16 << 20  # a record bigger than this is damage, not a container


class Damaged(ValueError):
    """A record exists but cannot be used (not JSON, wrong shape)."""


_CONFIG_TYPES = {"id": str, "name": str, "created": str, "image": str, "layers": list, "process": dict,
                 "hostname": str, "network": str, "volumes": list, "limits": dict}
_STATE_TYPES = {"status": str, "pid": int, "exit_code": int, "oom_killed": bool, "started_at": str,
                "finished_at": str, "error": str, "cgroup": str}


def _read_record(path: str, types: dict, cid: str | None = None) -> dict:
    """A record checked for the fields and types readers rely on; :class:`Damaged` otherwise."""
    try:
        data = read_json(path)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:  # RecursionError: [[[[...
        raise Damaged(f"not valid JSON ({str(e)[:80]})") from None
    if not isinstance(data, dict):
        raise Damaged(f"a JSON {type(data).__name__}, not an object")
    for key, kind in types.items():
        if key in data and not isinstance(data[key], kind) or (cid and key not in data):
            raise Damaged(f"field {key!r} is missing or not a {kind.__name__}")
    if cid and (data["id"] != cid or not _strings(data["process"].get("args"))):
        raise Damaged("it names another container or no command")
    return data


def _strings(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def warn(message: str) -> None:
    """One line on stderr (the CLI's, or the spawner's log): damage found and what was done."""
    print(f"vmvc: {message}", file=sys.stderr, flush=True)


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
            config = _read_record(os.path.join(d, "config.json"), _CONFIG_TYPES, cid)
        except FileNotFoundError:
            raise NotFound(f"No such container: {cid}") from None
        except Damaged as e:
            self.quarantine(cid, f"config.json is damaged: {e}")
            raise NotFound(f"No such container: {cid}") from None
        path = os.path.join(d, "state.json")
        try:
            state = {**INITIAL, **_read_record(path, _STATE_TYPES)}
        except FileNotFoundError:
            state = dict(INITIAL)
        except Damaged as e:
            state = self._replace_state(cid, path, str(e))
        return Record(config, state)

    def all(self) -> list[Record]:
        found = []
        for cid in self.ids():
            try:
                found.append(self.load(cid))
            except (NotFound, OSError):
                continue  # being created or removed right now (or quarantined just now)
        return sorted(found, key=lambda r: r.config["created"], reverse=True)

    # -- damage ---------------------------------------------------------------------------------
    @property
    def quarantine_dir(self) -> str:
        path = os.path.join(self.root, ".quarantine")
        os.makedirs(path, mode=0o700, exist_ok=True)
        return path

    def _aside(self, path: str, name: str) -> str:
        dest = os.path.join(self.quarantine_dir, f"{name}.{time.strftime('%Y%m%dT%H%M%S')}.{os.getpid()}")
        os.rename(path, dest)
        return dest

    def quarantine(self, cid: str, why: str) -> None:
        """Move a container whose config is damaged out of the table; release its name and image."""
        try:
            dest = self._aside(self.dir(cid), cid)
        except FileNotFoundError:
            return  # another reader moved it first
        warn(f"container {cid[:12]}: {why}; moved to {dest}")
        self._release_refs(cid)

    def _replace_state(self, cid: str, path: str, why: str) -> dict:
        """A damaged state.json: keep it aside, record the container as exited with the reason."""
        try:
            dest = self._aside(path, f"{cid}.state.json")
        except FileNotFoundError:
            dest = "(moved by another reader)"
        else:
            warn(f"container {cid[:12]}: state.json is damaged: {why}; moved to {dest}")
        state = {**INITIAL, "status": EXITED, "exit_code": 255, "finished_at": now(),
                 "error": f"its state record was damaged and moved to {dest}"}
        try:
            self.write_state(cid, state, durable=True)
        except OSError:
            pass
        return state

    def _release_refs(self, cid: str) -> None:
        """Names and image holds that point at ``cid`` (its config, which lists them, is unreadable)."""
        for name in _listdir(self.names_dir):
            self.release_name(name, cid)
        holds = os.path.join(self.images_root, "holds")
        for image in _listdir(holds):
            try:
                os.unlink(os.path.join(holds, image, cid))
            except OSError:
                pass

    def resolve(self, ref: str) -> str:
        """A name, full id or unique id prefix -> full id."""
        ref = ref.lstrip("/")
        if ref and "/" not in ref and not ref.startswith("."):  # a name: never a path out of names/
            try:
                with open(os.path.join(self.names_dir, ref), "rb") as f:
                    owner = f.read(65).decode("ascii", "replace")
                if len(owner) == 64 and all(c in "0123456789abcdef" for c in owner):
                    return owner
            except OSError:
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

    def release_stale_names(self) -> list[str]:
        """Free names whose container directory is gone (a crash between reserving a name and
        making the directory, or a quarantine). Only while no create runs: recovery, under the lock."""
        freed = []
        for name in _listdir(self.names_dir):
            try:
                with open(os.path.join(self.names_dir, name)) as f:
                    owner = f.read(128)
            except (OSError, UnicodeDecodeError):
                continue
            if not (len(owner) == 64 and os.path.isdir(self.dir(owner))):
                self.release_name(name, owner)
                freed.append(name)
        return freed

    def release_name(self, name: str, cid: str) -> None:
        path = os.path.join(self.names_dir, name)
        try:
            with open(path) as f:
                owner = f.read(128)
            if owner == cid:
                os.unlink(path)
        except (FileNotFoundError, IsADirectoryError, UnicodeDecodeError):
            pass

    def write_state(self, cid: str, state: dict, durable: bool = False) -> None:
        write_json(self.dir(cid, "state.json"), state, durable)

    def delete(self, cid: str) -> None:
        """Forget a container: its name, its image hold, its directory (upper layer and logs)."""
        trash = self.forget(cid)
        if trash:
            self.purge(trash)

    def forget(self, cid: str) -> str | None:
        """The fast half of :meth:`delete`: release name and image, rename the directory away.
        Returns the renamed directory for :meth:`purge`."""
        try:
            config = _read_record(self.dir(cid, "config.json"), _CONFIG_TYPES, cid)
        except (FileNotFoundError, Damaged):
            config = {}
            self._release_refs(cid)
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

        if os.geteuid() != 0:  # rootless (runtime.rootless): only its user namespace may delete it all
            from runtime.rootless.launch import run_mapped

            run_mapped(purge, trash)
            return
        purge(trash)


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []
