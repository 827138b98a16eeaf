"""``POST /build``: docker's legacy builder API (``DOCKER_BUILDKIT=0 docker build``): a tar context in,
the classic builder's output out as ``{"stream": …}`` lines, the image id as ``{"aux": {"ID": …}}``.
With ``q=1`` (``docker build -q``) the only stream line is the image id, as dockerd's: the CLI prints
the stream it got."""

from __future__ import annotations

import json
import shutil
import tempfile

from runtime.daemon.api.images import _stream_job
from runtime.daemon.http import HTTPError
from runtime.daemon.routes import route

MAX_CONTEXT = 2 << 30


@route("POST", "/build")
async def build(d, req):
    from runtime.build import Builder
    from runtime.build.context import extract_tar, read_inside

    tags = [v for _, v in _all(req, "t")]
    dockerfile = req.arg("dockerfile") or "Dockerfile"
    try:
        build_args = json.loads(req.arg("buildargs") or "{}")
    except ValueError:
        raise HTTPError(400, "buildargs must be a JSON object") from None
    if not isinstance(build_args, dict):
        raise HTTPError(400, "buildargs must be a JSON object")
    workdir = tempfile.mkdtemp(prefix="vmvc-build-ctx-")
    try:
        spool = tempfile.TemporaryFile(prefix="vmvc-build-tar-")
        async for piece in req.chunks(limit=MAX_CONTEXT):
            spool.write(piece)
        spool.seek(0)
        await d.call(extract_tar, spool, workdir)
        spool.close()
        text = await d.call(read_inside, workdir, dockerfile)
        if text is None:
            raise HTTPError(400, f"Cannot locate specified Dockerfile: {dockerfile}")

        quiet = req.flag("q")

        def job(emit):
            lines = []

            def out(text):
                if not quiet:
                    emit({"stream": text})

            args = {k: str(v) for k, v in build_args.items() if v is not None}
            builder = Builder(d.store, workdir, build_args=args, no_cache=req.flag("nocache"), emit=out,
                              engine=d.engine)
            image_id = builder.build(text, tags[0] if tags else None)
            for extra in tags[1:]:
                d.store.tag(image_id, extra)
                lines.append({"stream": f"Successfully tagged {extra}\n"})
            d.events.publish("image", "build", image_id, {"name": tags[0] if tags else ""})
            if quiet:
                lines = [{"stream": f"{image_id}\n"}]
            return [{"aux": {"ID": image_id}}, *lines]

        await _stream_job(d, req, job, passthrough=("stream",))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _all(req, name: str):
    """Repeated query parameters (``t=a&t=b``): the raw query kept them all."""
    import urllib.parse

    raw = req.extra.get("raw_query", "")
    return [(k, v) for k, v in urllib.parse.parse_qsl(raw, keep_blank_values=True) if k == name] or (
        [(name, req.arg(name))] if req.arg(name) else [])
