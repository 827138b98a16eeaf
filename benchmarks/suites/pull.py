"""Pulling images from a registry: vmvc's pull against skopeo and dockerd, side by side.

The same image, from the same local registry (Debian's docker-registry on loopback), three ways, in
interleaved rounds, each into an empty destination: ``vmvc pull`` (library call into a fresh store:
manifest, digests checked while streaming, layers extracted), ``skopeo copy`` to an OCI layout (fetch
and verify, no extraction) and, when Debian's dockerd is there, ``docker pull`` through a private
dockerd (fetch, verify, extract with containerd's snapshotter). Targets (issue 15): vmvc's time at most
1/0.8 of skopeo's and at most half of dockerd's.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import time

from benchmarks.suite import ClaimRow, Results, SuiteContext

NAME = "pull"
TITLE = "Pulling images from a registry: vmvc vs skopeo vs dockerd"
NEEDS = ["root", "docker-registry", "skopeo"]
CLAIMS: list[str] = []


def run(ctx: SuiteContext) -> None:
    from benchmarks.suites._registry import private_store, seeded_hub
    from runtime.registry import pull

    rounds = 3 if ctx.quick else 7
    counter = itertools.count()

    def fresh(kind: str) -> str:
        return os.path.join(str(ctx.workdir), f"{kind}-{next(counter)}")

    big = 0 if ctx.quick else 100
    work = str(ctx.workdir)
    with seeded_hub(work, big) as (hub, images):
        dockerd = _dockerd(ctx)
        try:
            for image, mb in images.items():
                ref = f"{hub.host}/library/{image}:latest"
                def vmvc_pull(ref=ref):
                    store = private_store(fresh("vmvc"))
                    t = time.perf_counter()
                    pull(store, ref, config={})
                    return (time.perf_counter() - t) * 1000

                def skopeo(ref=ref):
                    dest = fresh("skopeo")
                    t = time.perf_counter()
                    subprocess.run(["skopeo", "copy", "--quiet", "--src-tls-verify=false", f"docker://{ref}",
                                    f"oci:{dest}:x"], check=True, capture_output=True, timeout=600)
                    ms = (time.perf_counter() - t) * 1000
                    shutil.rmtree(dest, ignore_errors=True)
                    return ms

                methods = {"vmvc pull": vmvc_pull, "skopeo copy": skopeo}
                if dockerd is not None:
                    def docker_pull(ref=ref):
                        t = time.perf_counter()
                        dockerd.docker("pull", "-q", ref, timeout=600)
                        ms = (time.perf_counter() - t) * 1000
                        dockerd.docker("rmi", ref, check=False)
                        return ms

                    methods["docker pull (dockerd)"] = docker_pull
                advance = ctx.progress(f"pull: {image} ({mb} MB)", (rounds + 1) * len(methods))
                for r, m in ctx.rounds(list(methods), rounds, warmup=1):
                    ms = methods[m]()
                    if r >= 0:
                        ctx.sample(m, "pull", ms, "ms", round=r, image=image, mb=mb)
                    advance(1)
                    for d in os.listdir(work):
                        if d.startswith(("vmvc-", "skopeo-")):
                            shutil.rmtree(os.path.join(work, d), ignore_errors=True)
        finally:
            if dockerd is not None:
                dockerd.stop()
    ctx.note("Every pull starts from an empty destination; the registry is on loopback, so these times are "
             "the clients' own work (HTTP, hashing, writing, extracting), not the network's.")


def _dockerd(ctx):
    if not shutil.which("dockerd"):
        ctx.note("dockerd is not installed: the docker pull row is missing")
        return None
    from benchmarks.dockerd import DockerdError, PrivateDockerd

    try:
        return PrivateDockerd()
    except DockerdError as e:
        ctx.note(f"dockerd did not start ({e}): the docker pull row is missing")
        return None


def claims(res: Results) -> list[ClaimRow]:
    return []


def ratios(res: Results) -> list[tuple[str, float, float | None, float | None]]:
    """(image, vmvc ms, vmvc/skopeo, vmvc/dockerd) per image measured."""
    out = []
    for s in res.summaries(NAME):
        if s.method != "vmvc pull":
            continue
        labels = dict(s.labels)
        sk = res.get(NAME, "skopeo copy", "pull", **labels)
        dk = res.get(NAME, "docker pull (dockerd)", "pull", **labels)
        out.append((labels.get("image", "?"), s.median, s.median / sk.median if sk else None,
                    s.median / dk.median if dk else None))
    return out


def chart(res: Results, ax) -> None:
    rows = [s for s in res.summaries(NAME)]
    if not rows:
        return
    names = [f"{s.method}\n{s.labels.get('image')}" for s in rows]
    ax.barh(names, [s.median for s in rows], color=["#2a9d8f" if s.method == "vmvc pull" else "#8d99ae"
                                                    for s in rows])
    ax.set_xlabel("pull from a loopback registry, median ms")
    ax.invert_yaxis()
