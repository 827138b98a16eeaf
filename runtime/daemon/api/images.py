"""``/images/…``: list, inspect, history, tag, delete, prune, and ``POST /images/create`` (import from a
tar stream; pull of vmvc's built-in images — other pulls need the registry client, not built yet)."""

from __future__ import annotations

import tempfile

from runtime.daemon.http import HTTPError
from runtime.daemon.routes import route
from runtime.errors import NotFound

MAX_IMPORT = 8 << 30  # bytes of compressed tar a single import request may send


async def _image(d, name: str):
    await _builtins(d)
    img = await d.call(d.store.find, name)
    if img is None:
        raise HTTPError(404, f"No such image: {_shown(name)}")
    return img


def _shown(name: str) -> str:
    """dockerd's name for a missing image: ``foo`` -> ``foo:latest``; ids and digests as given."""
    from runtime.images import reference

    if name.startswith("sha256:") or "@" in name or all(c in "0123456789abcdef" for c in name):
        return name
    try:
        return reference.familiar(reference.normalise(name))
    except Exception:  # a malformed name: as given
        return name


async def _builtins(d) -> None:
    """vmvc's own images (busybox, hello-world) are local from the daemon's start, as an image a
    dockerd has is: ``docker images``, ``tag`` and ``inspect`` see them before any run made them. Made
    once per daemon, on the first image call (not at start: a daemon that never lists images pays
    nothing); not when a registry is configured, where they are pulled as any image is."""
    if d.__dict__.get("builtins_made") or d.config.get("hub") or d.config.get("registry-mirrors"):
        return
    from runtime.images import builtin

    try:
        await d.store_call(builtin.init, d.store)
    except Exception as e:  # noqa: BLE001 - no static busybox here: the images just are not there
        d.log(f"vmvc daemon: built-in images not made: {e}")
    d.builtins_made = True


@route("GET", "/images/json")
async def list_images(d, req):
    from runtime.images import intermediates, shapes

    await _builtins(d)
    every = req.flag("all")

    def gather():
        found = d.store.images()
        hidden = set() if every else intermediates.hidden(d.store, found)
        return [shapes.summary(d.store, i) for i in found if i.id not in hidden]

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
        raise HTTPError(404, f"No such image: {_shown(name)}") from None
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
    config = _import_config(req)
    spool = tempfile.SpooledTemporaryFile(max_size=64 << 20, prefix="vmvc-import-")
    try:
        async for piece in req.chunks(limit=MAX_IMPORT):
            spool.write(piece)
        spool.seek(0)
        img = await d.store_call(d.store.import_tar, spool, ref, config=config,
                                 comment=req.arg("message") or "docker import via vmvc daemon")
    finally:
        spool.close()
    d.events.publish("image", "import", img.id, {"name": ref or ""})
    await req.start_stream()
    await req.chunk_json({"status": img.id})
    await req.end_stream()


def _import_config(req) -> dict:
    """``docker import -c 'CMD …' -c 'ENV …'``: each ``changes`` parameter applied in order, as the
    direct path applies them (:mod:`runtime.images.changes`)."""
    import urllib.parse

    from runtime.errors import VmvcError
    from runtime.images import changes
    from runtime.images.store import DEFAULT_PATH

    given = [v for k, v in urllib.parse.parse_qsl(req.extra.get("raw_query", ""), keep_blank_values=True)
             if k == "changes" and v]
    try:
        return changes.apply({"Env": [DEFAULT_PATH]}, given)
    except VmvcError as e:
        raise HTTPError(400, str(e)) from None


def registry_credentials(req) -> tuple[str, str] | None:
    """The docker CLI's ``X-Registry-Auth`` (base64url JSON with username and password)."""
    import base64
    import json

    raw = req.headers.get("x-registry-auth")
    if not raw:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, TypeError):
        return None
    if isinstance(data, dict) and data.get("username") and data.get("password"):
        return str(data["username"]), str(data["password"])
    return None


async def _stream_job(d, req, job,
                      passthrough=("status", "id", "progressDetail", "endpoint", "error_kind")) -> None:
    """Run ``job(emit)`` on the pool and stream what it emits as docker's JSON progress lines; an error
    ends the stream with docker's in-stream ``error``/``errorDetail`` (the CLI prints it and fails)."""
    import asyncio

    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()

    def emit(ev: dict) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, ("event", ev))

    def work():
        try:
            loop.call_soon_threadsafe(queue.put_nowait, ("done", job(emit)))
        except Exception as e:  # reported in the stream
            loop.call_soon_threadsafe(queue.put_nowait, ("error", e))

    await req.start_stream()
    fut = loop.run_in_executor(d.pool, work)
    try:
        while True:
            kind, value = await queue.get()
            if kind == "event":
                ev = {k: v for k, v in value.items() if k in passthrough}
                if ev.get("progressDetail"):
                    cur, tot = ev["progressDetail"].get("current", 0), ev["progressDetail"].get("total", 0)
                    ev["progress"] = f"{cur}/{tot}" if tot else str(cur)
                await req.chunk_json(ev)
            elif kind == "error":
                msg = str(value)
                await req.chunk_json({"errorDetail": {"message": msg}, "error": msg})
                break
            else:
                for line in value or []:
                    await req.chunk_json(line)
                break
    finally:
        await req.end_stream()
        await fut


async def _pull(d, req):
    from runtime.images import builtin, reference

    name = req.arg("fromImage")
    tag_ = req.arg("tag") or "latest"
    ref = name if ("@" in name or ":" in name.rsplit("/", 1)[-1]) else (
        f"{name}@{tag_}" if tag_.startswith("sha256:") else f"{name}:{tag_}")
    try:
        full = reference.normalise(ref.partition("@")[0])
    except Exception as e:
        raise HTTPError(400, str(e)) from None
    registry_set = d.config.get("hub") or d.config.get("registry-mirrors")
    if full in builtin.BUILTINS and not registry_set and "@" not in ref:
        img = await d.store_call(d.store.resolve, full)  # vmvc's own images, no registry needed
        shown = reference.familiar(full)
        await req.start_stream()
        await req.chunk_json({"status": f"Pulling from {reference.split(full)[1]}", "id": tag_})
        await req.chunk_json({"status": f"Digest: {img.id}"})
        await req.chunk_json({"status": f"Status: Image is up to date for {shown}"})
        await req.end_stream()
        return
    from runtime.registry import pull

    creds = registry_credentials(req)

    def job(emit):
        result = pull(d.store, ref, config=d.config, progress=emit, credentials=creds)
        shown = reference.familiar(result.reference)
        word = "Downloaded newer image" if result.new else "Image is up to date"
        d.events.publish("image", "pull", shown, {"name": shown, "endpoint": result.endpoint})
        return [{"status": f"Digest: {result.digest}"},
                {"status": f"Status: {word} for {shown}", "endpoint": result.endpoint}]

    await _stream_job(d, req, job)


@route("POST", "/images/{name:path}/push")
async def push(d, req, name):
    from runtime.registry import push as push_image

    ref = f"{name}:{req.arg('tag')}" if req.arg("tag") else name
    await _builtins(d)
    if await d.call(d.store.find, ref) is None:
        raise HTTPError(404, f"An image does not exist locally with the tag: {ref}")
    creds = registry_credentials(req)

    def job(emit):  # the library already said "<tag>: digest: … size: …"
        result = push_image(d.store, ref, config=d.config, progress=emit, credentials=creds)
        return [{"aux": {"Tag": ref.rsplit(":", 1)[-1], "Digest": result.digest, "Size": result.size}}]

    await _stream_job(d, req, job)


@route("POST", "/auth")
async def auth(d, req):
    from runtime.registry import endpoints

    body = await req.json()
    server = str(body.get("serveraddress") or "https://index.docker.io/v1/")
    host = server.split("://", 1)[-1].rstrip("/").split("/")[0]
    user, password = body.get("username"), body.get("password")
    if not user or not password:
        raise HTTPError(400, "username and password are required")

    def check():
        last = None
        for ep in endpoints.for_push("docker.io" if "docker.io" in host else host, d.config):
            ep.creds = (str(user), str(password))
            try:
                ep.request("GET", "/v2/", scope="login")
                return None
            except Exception as e:  # noqa: BLE001 - answered below
                last = e
            finally:
                ep.close()
        return last

    failed = await d.call(check)
    if failed is not None:
        status = 401 if getattr(failed, "status", 0) == 401 else 500
        raise HTTPError(status, f"login attempt to {server} failed: {failed}")
    await req.send_json({"Status": "Login Succeeded", "IdentityToken": ""})
