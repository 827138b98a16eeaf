"""The image store's interface (:class:`runtime.images.store.ImageStore`) over the Docker Engine API:
what ``vmvc images``, ``image inspect``, ``tag``, ``rmi``, ``import``, ``image prune`` and ``system df``
call, so they print through a daemon exactly what they print locally."""

from __future__ import annotations

import json
import time

from runtime.api_client.client import Client
from runtime.api_client.engine import _q
from runtime.errors import NotFound, VmvcError
from runtime.images import reference
from runtime.images.store import DEFAULT_PATH, Image


def _iso(created) -> str:
    if isinstance(created, (int, float)):
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created))
    return created or ""


def _normalised(tags) -> list[str]:
    out = []
    for t in tags or []:
        if t and t != "<none>:<none>":
            try:
                out.append(reference.normalise(t))
            except VmvcError:
                continue
    return out


def image(data: dict) -> Image:
    """An API image (a list entry or an inspect answer) as the store's :class:`Image`."""
    tags = _normalised(data.get("RepoTags"))
    lower = ((data.get("GraphDriver") or {}).get("Data") or {}).get("LowerDir") or ""
    return Image(id=data["Id"], name=tags[0] if tags else "", repo_tags=[reference.familiar(t) for t in tags],
                 tags=tags, config=data.get("Config") or {},
                 diff_ids=list((data.get("RootFS") or {}).get("Layers") or []),
                 layer_dirs=lower.split(":") if lower else [], size=int(data.get("Size") or 0),
                 created=_iso(data.get("Created")), architecture=data.get("Architecture", ""),
                 os=data.get("Os", ""), manifest="")


def _changes(config: dict | None) -> tuple[str, ...] | None:
    """The config ``import -c`` made, as docker's ``changes`` (Dockerfile lines the daemon applies to the
    same default config, in an order that gives the same result)."""
    import shlex

    if not config or config == {"Env": [DEFAULT_PATH]}:
        return None
    out = [f"ENV {shlex.quote(e)}" for e in config.get("Env") or []]
    out += [f"LABEL {shlex.quote(f'{k}={v}')}" for k, v in (config.get("Labels") or {}).items()]
    for key, word in (("Cmd", "CMD"), ("Entrypoint", "ENTRYPOINT")):
        if config.get(key) is not None:
            out.append(f"{word} {json.dumps(config[key])}")
    for key, word in (("WorkingDir", "WORKDIR"), ("User", "USER")):
        if config.get(key):
            out.append(f"{word} {config[key]}")
    return tuple(out)


class RemoteStore:
    def __init__(self, client: Client) -> None:
        self.client = client
        self._holders: dict[str, list[str]] = {}
        self.every = False  # list a build's intermediate images too (images -a)

    def images(self) -> list[Image]:
        found = []
        for entry in self.client.call("GET", "/images/json", {"all": self.every or None}) or []:
            self._holders.setdefault(entry["Id"], ["?"] * int(entry.get("Containers") or 0))
            found.append(image(entry))
        return sorted(found, key=lambda im: im.created, reverse=True)

    def find(self, ref: str) -> Image | None:
        try:
            data = self.client.call("GET", f"/images/{_q(ref)}/json")
        except NotFound:
            return None
        self._holders[data["Id"]] = list(data.get("Containers") or [])
        return image(data)

    def resolve(self, ref: str) -> Image:
        found = self.find(ref)
        if found is None:
            raise NotFound(f"No such image: {ref}")
        return found

    def holders(self, image_id: str) -> list[str]:
        if image_id not in self._holders:
            self.find(image_id)
        return self._holders.get(image_id, [])

    def tag(self, ref: str, new: str) -> None:
        full = reference.normalise(new)  # a bad name fails here, in the direct path's words
        repo, _, tag = full.rpartition(":")
        self.client.status("POST", f"/images/{_q(ref)}/tag", {"repo": reference.familiar(repo), "tag": tag})

    def remove(self, ref: str, force: bool = False) -> list[dict]:
        return self.client.call("DELETE", f"/images/{_q(ref)}", {"force": force}) or []

    def prune(self, all_images: bool = False) -> dict:
        query = {"filters": {"dangling": ["false"]}} if all_images else None
        result = self.client.call("POST", "/images/prune", query) or {}
        return {"ImagesDeleted": result.get("ImagesDeleted") or [],
                "SpaceReclaimed": result.get("SpaceReclaimed", 0)}

    def import_tar(self, src, ref: str | None = None, *, config: dict | None = None,
                   comment: str = "vmvc import", **_ignored) -> Image:
        if ref is not None:
            reference.normalise(ref)
        query = {"fromSrc": "-", "repo": ref, "message": comment, "changes": _changes(config)}
        if isinstance(src, str):
            try:
                f = open(src, "rb")
            except OSError as e:
                raise VmvcError(f"open {src}: {e.strerror}") from None
        else:
            f = src
        try:
            lines = list(self.client.json_lines("POST", "/images/create", query, f))
        finally:
            if f is not src:
                f.close()
        ids = [ln["status"] for ln in lines if str(ln.get("status", "")).startswith("sha256:")]
        if not ids:
            raise VmvcError("the daemon's import answered no image id")
        return self.resolve(ids[-1])

    def disk_usage(self) -> dict:
        data = self.client.call("GET", "/system/df") or {}
        if "VmvcDiskUsage" in data:
            return data["VmvcDiskUsage"]
        raise VmvcError("this daemon's /system/df lacks vmvc's layer accounting: ask it with the docker "
                        "CLI (docker system df)")
