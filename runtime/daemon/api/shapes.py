"""Docker API JSON <-> vmvc objects: a create body into a :class:`Spec`, a record into a list entry."""

from __future__ import annotations

import json
import time

from runtime.containers.spec import Spec, Volume
from runtime.daemon.http import HTTPError

_STATUS_WORD = {"running": "Up", "exited": "Exited", "created": "Created"}


def spec_from_create(body: dict, name: str | None) -> Spec:
    """``POST /containers/create`` body -> Spec (docker's field names; unknown ones are ignored)."""
    host = body.get("HostConfig") or {}
    if not isinstance(host, dict):
        raise HTTPError(400, "HostConfig must be an object")
    image = body.get("Image")
    if not isinstance(image, str) or not image:
        raise HTTPError(400, "config: Image is required")

    def strings(key, where=body):
        v = where.get(key)
        if v is None:
            return None
        if isinstance(v, str):
            return [v]
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise HTTPError(400, f"{key} must be a list of strings")
        return v

    def number(key, where=host):
        v = where.get(key)
        if v in (None, 0):
            return None
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            raise HTTPError(400, f"{key} must be a number")
        return v

    volumes = []
    for b in strings("Binds", host) or []:
        parts = b.split(":")
        if len(parts) < 2:
            raise HTTPError(400, f"invalid volume specification: '{b}'")
        volumes.append(Volume(parts[0], parts[1], len(parts) > 2 and "ro" in parts[2].split(",")))
    network = host.get("NetworkMode") or "default"
    network = {"default": "private", "bridge": "private"}.get(network, network)
    nano = number("NanoCpus")
    labels = body.get("Labels") or {}
    if not isinstance(labels, dict):
        raise HTTPError(400, "Labels must be an object")
    return Spec(
        image,
        strings("Cmd"),
        entrypoint=strings("Entrypoint"),
        env=strings("Env") or [],
        workdir=body.get("WorkingDir") or None,
        user=body.get("User") or None,
        hostname=body.get("Hostname") or None,
        name=name or None,
        volumes=volumes,
        memory=number("Memory"),
        cpus=nano / 1e9 if nano else None,
        pids_limit=number("PidsLimit"),
        network=network,
        tty=bool(body.get("Tty")),
        stdin=bool(body.get("OpenStdin")),
        auto_remove=bool(host.get("AutoRemove")),
        labels={str(k): str(v) for k, v in labels.items()},
        **_security(host),
        **_log_config(host),
    )


def _log_config(host: dict) -> dict:
    """``HostConfig.LogConfig`` -> ``log_opt`` (``--log-opt``): json-file is the one driver, its
    max-size/max-file checked by the direct path's parser (in :class:`Spec`)."""
    cfg = host.get("LogConfig") or {}
    if not isinstance(cfg, dict):
        raise HTTPError(400, "LogConfig must be an object")
    kind, opts = cfg.get("Type") or "json-file", cfg.get("Config") or {}
    if kind != "json-file":
        raise HTTPError(400, f"logger: no log driver named '{kind}' is registered (vmvc has json-file)")
    if not isinstance(opts, dict) or not all(isinstance(v, str) for v in opts.values()):
        raise HTTPError(400, "LogConfig.Config must be an object of strings")
    return {"log_opt": [f"{k}={v}" for k, v in opts.items()]} if opts else {}


def _security(host: dict) -> dict:
    """--init, --privileged and --security-opt, passed on only when asked (older Specs lack them)."""
    from runtime.containers.spec import FIELDS

    out = {}
    if host.get("Init") and "init" in FIELDS:
        out["init"] = True
    if host.get("Privileged") and "privileged" in FIELDS:
        out["privileged"] = True
    opts = host.get("SecurityOpt")
    if opts:
        if not isinstance(opts, list) or not all(isinstance(o, str) for o in opts):
            raise HTTPError(400, "SecurityOpt must be a list of strings")
        if "security_opt" in FIELDS:
            out["security_opt"] = list(opts)
    return out


def _status_text(rec) -> str:
    s = rec.state
    if rec.running:
        return "Up " + _since(s.get("started_at"))
    if rec.status == "exited":
        return f"Exited ({s.get('exit_code', 0)}) {_since(s.get('finished_at'))} ago"
    return "Created"


def _since(iso: str | None) -> str:
    from runtime.images.shapes import epoch
    from runtime.units import human_duration

    return human_duration(max(0, time.time() - epoch(iso or "")) if iso else 0)


def list_entry(rec) -> dict:
    """One entry of ``GET /containers/json``."""
    from runtime.images.shapes import epoch

    c = rec.config
    args = c["process"]["args"]
    return {
        "Id": rec.id, "Names": ["/" + rec.name], "Image": c["image"], "ImageID": c["image_id"],
        "Command": " ".join(args), "Created": epoch(c["created"]), "State": rec.status,
        "Status": _status_text(rec), "Ports": [], "Labels": c.get("labels", {}), "SizeRw": 0,
        "HostConfig": {"NetworkMode": c["network"]}, "NetworkSettings": {"Networks": {}}, "Mounts": [],
    }


def filters(req) -> dict[str, list[str]]:
    """docker's ``filters`` query: ``{"status":["running"]}`` or the old ``{"status":{"running":true}}``."""
    raw = req.arg("filters")
    if not raw:
        return {}
    try:
        obj = json.loads(raw)
    except ValueError:
        raise HTTPError(400, f"invalid filters: {raw}") from None
    if not isinstance(obj, dict):
        raise HTTPError(400, f"invalid filters: {raw}")
    out = {}
    for k, v in obj.items():
        if isinstance(v, dict):
            v = [x for x, on in v.items() if on]
        elif isinstance(v, str):
            v = [v]
        if not isinstance(v, list):
            raise HTTPError(400, f"invalid filter {k!r}")
        out[k] = [str(x) for x in v]
    return out


def container_matches(rec, f: dict) -> bool:
    if "status" in f and rec.status not in f["status"]:
        return False
    if "name" in f and not any(n in rec.name for n in f["name"]):
        return False
    if "id" in f and not any(rec.id.startswith(i) for i in f["id"]):
        return False
    if "label" in f:
        labels = rec.config.get("labels", {})
        for want in f["label"]:
            k, eq, v = want.partition("=")
            if k not in labels or (eq and labels[k] != v):
                return False
    if "ancestor" in f and rec.config["image"] not in f["ancestor"]:
        return False
    return True
