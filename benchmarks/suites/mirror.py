"""Registry mirrors (镜像加速, claim C12): why the tutorial configures ``registry-mirrors``.

Docker Hub is played by a local registry behind a shaping proxy that makes it far (150 ms round trip,
4 MB/s); the mirror is a pull-through cache (docker-registry's ``proxy.remoteurl``) near the client, in
front of that far hub and warmed by one pull. Three configurations pull the same image into an empty
store, in interleaved rounds: the far hub alone; the near mirror first (``registry-mirrors``); and a
mirror that is down, so the pull falls back to the far hub as dockerd does (the cost of a dead mirror).
The images (:mod:`benchmarks.suites._registry`): busybox (2 MB) and, with ``--full``, a ~100 MB
application image in four gzip layers (60 MB on the wire); the big one skips the dead-mirror row.
"""

from __future__ import annotations

import itertools
import os
import shutil
import time

from benchmarks.suite import ClaimRow, Results, SuiteContext

NAME = "mirror"
TITLE = "Registry mirrors (镜像加速): a near mirror vs a far registry"
NEEDS = ["root", "docker-registry"]
CLAIMS = ["C12"]
RTT_MS, RATE = 150, 4_000_000
FAR, NEAR, DEAD = "far hub only", "near mirror (warm cache)", "dead mirror, then far hub"


def run(ctx: SuiteContext) -> None:
    from benchmarks.netshape import ShapedProxy
    from benchmarks.suites._registry import private_store, seeded_hub
    from runtime.registry import LocalRegistry, pull
    from runtime.registry.server import free_port

    rounds = 3 if ctx.quick else 5
    work = str(ctx.workdir)
    counter = itertools.count()
    with seeded_hub(work, big=not ctx.quick) as (hub, images), \
            ShapedProxy(hub.port, rtt_ms=RTT_MS, rate=RATE) as far, \
            LocalRegistry(os.path.join(work, "cache"), upstream=far.url) as cache:
        configs = {FAR: {"hub": far.url}, NEAR: {"hub": far.url, "registry-mirrors": [cache.url]},
                   DEAD: {"hub": far.url, "registry-mirrors": [f"http://127.0.0.1:{free_port()}"]}}
        for image, mb in images.items():
            def one(method, image=image):
                dest = os.path.join(work, f"store-{next(counter)}")
                store = private_store(dest)
                t = time.perf_counter()
                result = pull(store, image, config=configs[method])
                ms = (time.perf_counter() - t) * 1000
                shutil.rmtree(dest, ignore_errors=True)
                return ms, result.endpoint

            # the big image through the far link takes ~15 s a pull: fewer rounds, and the dead mirror
            # (a fixed cost, shown with the small image) is left out
            big = mb > 50
            methods = [FAR, NEAR] if big else list(configs)
            n = min(rounds, 3) if big else rounds
            one(NEAR)  # warm the pull-through cache (its first pull goes to the far hub)
            advance = ctx.progress(f"mirror: {image} ({mb} MB)", (n + 1) * len(methods))
            for r, m in ctx.rounds(methods, n, warmup=1):
                ms, served_by = one(m)
                if r >= 0:
                    ctx.sample(m, "pull", ms, "ms", round=r, image=image, mb=mb)
                    ctx.fact(f"served_by {m} {image}", "mirror" if served_by == cache.url else "hub")
                advance(1)
    ctx.note(f"The far hub is a local registry behind a proxy adding {RTT_MS} ms of round trip and a "
             f"{RATE / 1e6:.0f} MB/s link; the mirror is a pull-through cache on loopback. A warm cache "
             "still asks the far hub for the tag's current manifest (distribution's proxy re-checks tags), "
             "so it saves the layer bytes, not every round trip.")


def claims(res: Results) -> list[ClaimRow]:
    rows = []
    for s in res.summaries(NAME):
        if s.method != FAR:
            continue
        near = res.get(NAME, NEAR, "pull", **s.labels)
        dead = res.get(NAME, DEAD, "pull", **s.labels)
        if near is None:
            continue
        text = (f"{s.labels.get('image')} ({s.labels.get('mb')} MB): far registry {s.median:.0f} ms, near "
                f"mirror {near.median:.0f} ms ({s.median / near.median:.1f}× faster)")
        if dead is not None:
            text += f"; a dead mirror falls back to the far registry in {dead.median:.0f} ms"
        rows.append(text)
    if not rows:
        return [ClaimRow("C12", "no mirror pulls measured", "not measured here",
                         "the mirror suite did not run")]
    return [ClaimRow("C12", "; ".join(rows), "reproduced",
                     "the far registry is simulated on loopback (added latency and a bandwidth cap), as is "
                     "the mirror; the fallback follows dockerd's rules for registry-mirrors",
                     "dockerd: mirrors apply to Docker Hub images only, in order, then the Hub")]


def chart(res: Results, ax) -> None:
    rows = res.summaries(NAME)
    if not rows:
        return
    rows = sorted(rows, key=lambda s: (float(s.labels.get("mb") or 0), [FAR, DEAD, NEAR].index(s.method)
                                       if s.method in (FAR, DEAD, NEAR) else 3))
    names = [f"{s.method}\n{s.labels.get('image')} ({s.labels.get('mb')} MB)" for s in rows]
    values = [s.median / 1000 for s in rows]
    ax.barh(names, values, color=[{NEAR: "#2a9d8f", DEAD: "#e76f51"}.get(s.method, "#8d99ae") for s in rows])
    for y, v in enumerate(values):
        ax.text(v, y, f" {v:.2f} s", va="center", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlim(right=max(values) * 2.5)  # room for the last label
    ax.set_xlabel(f"pull time, median s, log scale (far registry: {RTT_MS} ms RTT, {RATE / 1e6:.0f} MB/s)")
    ax.invert_yaxis()
