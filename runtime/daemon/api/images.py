"""``/images/…``: list, inspect, history, tag, delete, prune, and ``POST /images/create`` (import from a
tar stream; pull of vmvc's built-in images — other pulls need the registry client, not built yet)."""

from __future__ import annotations

import contextlib
import tempfile

from runtime.daemon.http import HTTPError
from runtime.daemon.routes import route
from runtime.errors import NotFound

MAX_IMPORT = 8 << 30  # bytes of compressed tar a single import request may send


async def _image(d, name: str):
    img = await d.call(d.store.find, name)
    if img is None:
        raise HTTPError(404, f"No such image: {name}")
    return img


@route("GET", "/images/json")
async def list_images(d, req):
    from runtime.images import shapes

    def gather():
        return [shapes.summary(d.store, i) for i in d.store.images()]

    out = await d.call(gather)
    ref = req.arg("filter")
    if ref:
        out = [i for i in out if any(t.split(":")[0] == ref.split(":")[0] for t in i["RepoTags"] or [])]
    await req.send_json(out)


@route("GET", "/images/{name:path}/json")
async def inspect(d, req, name):
    from runtime.images import shapes

    img = await _image(d, name)
    await req.send_json(await d.call(shapes.inspect, d.store, img))


@route("GET", "/images/{name:path}/history")
async def history(d, req, name):
    import json

    from runtime.images.shapes import epoch

    img = await _image(d, name)
    config = json.loads(await d.call(d.store.config_blob, img))
    rows = []
    for i, h in enumerate(reversed(config.get("history") or [])):
        rows.append({"Id": img.id if i == 0 else "<missing>", "Created": epoch(h.get("created", "")),
                     "CreatedBy": h.get("created_by", ""), "Tags": img.repo_tags if i == 0 else None,
                     "Size": img.size if i == 0 else 0, "Comment": h.get("comment", "")})
    await req.send_json(rows)


@route("POST", "/images/{name:path}/tag")
async def tag(d, req, name):
    repo = req.arg("repo")
    if not repo:
        raise HTTPError(400, "repository name must have at least one component")
    new = f"{repo}:{req.arg('tag')}" if req.arg("tag") else repo
    await _image(d, name)
    await d.store_call(d.store.tag, name, new)
    d.events.publish("image", "tag", name, {"name": new})
    await req.send(201, b"")


@route("DELETE", "/images/{name:path}")
async def remove(d, req, name):
    try:
        out = await d.store_call(d.store.remove, name, req.flag("force"))
    except NotFound:
        raise HTTPError(404, f"No such image: {name}") from None
    for item in out:
        for action, what in item.items():
            d.events.publish("image", action.lower(), what, {"name": name})
    await req.send_json(out)


@route("POST", "/images/prune")
async def prune(d, req):
    from runtime.daemon.api.shapes import filters

    f = filters(req)
    every = any(v.lower() in ("false", "0") for v in f.get("dangling", []))
    result = await d.store_call(d.store.prune, every)
    result["ImagesDeleted"] = result["ImagesDeleted"] or None
    await req.send_json(result)


@route("POST", "/images/create")
async def create(d, req):
    if req.arg("fromSrc") is not None:
        await _import(d, req)
    elif req.arg("fromImage"):
        await _pull(d, req)
    else:
        raise HTTPError(400, "fromImage or fromSrc is required")


async def _import(d, req):
    """``docker import t.tar name:tag``: the tar arrives as the (chunked) request body."""
    if req.arg("fromSrc") != "-":
        raise HTTPError(400, "only fromSrc=- (the request body) is supported")
    repo, tag_ = req.arg("repo") or "", req.arg("tag") or ""
    ref = (f"{repo}:{tag_}" if tag_ else repo) or None
    spool = tempfile.SpooledTemporaryFile(max_size=64 << 20, prefix="vmvc-import-")
    try:
        async for piece in req.chunks(limit=MAX_IMPORT):
            spool.write(piece)
        spool.seek(0)
        changes = req.query.get("changes")
        img = await d.store_call(d.store.import_tar, spool, ref, comment="docker import via vmvc daemon")
        if changes:
            pass  # Dockerfile-style --change is applied by the CLI path (runtime.images.changes)
    finally:
        spool.close()
    d.events.publish("image", "import", img.id, {"name": ref or ""})
    await req.start_stream()
    await req.chunk_json({"status": img.id})
    await req.end_stream()


async def _pull(d, req):
    from runtime.images import builtin, reference

    name = req.arg("fromImage")
    tag_ = req.arg("tag") or "latest"
    ref = name if ("@" in name or ":" in name.rsplit("/", 1)[-1]) else f"{name}:{tag_}"
    try:
        full = reference.normalise(ref)
    except Exception as e:
        raise HTTPError(400, str(e)) from None
    if full not in builtin.BUILTINS:
        raise HTTPError(404, f"pull access denied for {reference.familiar(full)}: vmvc's registry client "
                             "is not built yet; only vmvc's own images (hello-world, busybox) are available")
    img = await d.store_call(d.store.resolve, full)
    await req.start_stream()
    shown = reference.familiar(full)
    await req.chunk_json({"status": f"Pulling from {shown.split(':')[0]}", "id": tag_})
    await req.chunk_json({"status": f"Digest: {img.id}"})
    await req.chunk_json({"status": f"Status: Image is up to date for {shown}"})
    await req.end_stream()
    with contextlib.suppress(Exception):
        d.events.publish("image", "pull", shown, {"name": shown})
