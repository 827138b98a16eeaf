"""Pulling images from a registry: vmvc's pull against skopeo and dockerd, side by side.

The same images (see :mod:`benchmarks.suites._registry`: a 2 MB busybox and, with ``--full``, a ~100 MB
application image in four gzip layers), from the same local registry (Debian's docker-registry on
loopback), in interleaved rounds, each into an empty destination (cold: nothing of the image is there):

- ``vmvc pull``: library call into a fresh store: manifest, every blob verified, layers decompressed,
  checked and extracted into the store, ready to run;
- ``skopeo copy → containers-storage``: the same work by containers/image + containers/storage (what
  ``podman pull`` does: fetch, verify, decompress, extract into overlay layers). This is the fair "pull
  to local disk" anchor, and the one the target is judged against;
- ``skopeo copy → oci dir``: fetch and verify only, the compressed blobs written as they are (no
  decompression, no extraction): the floor of the transfer alone, shown for scale;
- ``docker pull (dockerd)``: through a private dockerd (fetch, verify, decompress, extract with its
  overlay2 driver), the image removed after each round.

Targets (issue 15): vmvc's time at most 1/0.8 of skopeo's (to containers-storage) and at most half of
dockerd's.
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
VMVC, SKOPEO, SKOPEO_OCI, DOCKER = ("vmvc pull", "skopeo copy → containers-storage", "skopeo copy → oci dir",
                                    "docker pull (dockerd)")
SKOPEO_TARGET, DOCKER_TARGET = 1 / 0.8, 0.5  # vmvc time / anchor time, at most


def run(ctx: SuiteContext) -> None:
    from benchmarks.suites._registry import private_store, seeded_hub
    from runtime.registry import pull

    rounds, warmup = (3, 1) if ctx.quick else (7, 1)
    counter = itertools.count()
    work = str(ctx.workdir)

    def fresh(kind: str) -> str:
        return os.path.join(work, f"{kind}-{next(counter)}")

    with seeded_hub(work, big=not ctx.quick, variants=rounds + warmup) as (hub, images):
        dockerd = _dockerd(ctx)
        try:
            for image, mb in images.items():
                def ref(r: int, image=image) -> str:  # round r pulls variant r: new layers for everyone
                    return f"{hub.host}/library/{image}:v{r + warmup}"

                def vmvc_pull(r: int) -> float:
                    store = private_store(fresh("vmvc"))
                    t = time.perf_counter()
                    pull(store, ref(r), config={})
                    return (time.perf_counter() - t) * 1000

                def skopeo(r: int, oci: bool = False) -> float:
                    dest = fresh("skopeo")
                    target = (f"oci:{dest}:x" if oci else
                              f"containers-storage:[overlay@{dest}/root+{dest}/run]{ref(r)}")
                    t = time.perf_counter()
                    subprocess.run(["skopeo", "copy", "--quiet", "--src-tls-verify=false", f"docker://{ref(r)}",
                                    target], check=True, capture_output=True, timeout=600)
                    return (time.perf_counter() - t) * 1000

                methods = {VMVC: vmvc_pull, SKOPEO: skopeo, SKOPEO_OCI: lambda r: skopeo(r, oci=True)}
                if dockerd is not None:
                    def docker_pull(r: int) -> float:
                        t = time.perf_counter()
                        dockerd.docker("pull", "-q", ref(r), timeout=600)
                        return (time.perf_counter() - t) * 1000

                    methods[DOCKER] = docker_pull
                advance = ctx.progress(f"pull: {image} ({mb} MB)", (rounds + warmup) * len(methods))
                try:
                    for r, m in ctx.rounds(list(methods), rounds, warmup=warmup):
                        ms = methods[m](r)
                        if r >= 0:
                            ctx.sample(m, "pull", ms, "ms", round=r, image=image, mb=mb)
                        advance(1)
                finally:  # nothing is deleted between rounds (see _registry.Image): all of it now
                    for d in os.listdir(work):
                        if d.startswith(("vmvc-", "skopeo-")):
                            _remove(os.path.join(work, d))
                _ratios(ctx, image)
        finally:
            if dockerd is not None:
                dockerd.stop()
    ctx.note("Every pull starts cold: each round pulls a variant of the image whose every layer differs (one "
             "small file added), into an empty store or directory; the registry is on loopback, so these "
             "times are the clients' own work (HTTP, hashing, decompressing, writing, extracting), not the "
             "network's. The layers are gzip-compressed, as Docker Hub serves them. The skopeo → oci row "
             "only fetches and verifies the compressed blobs (no decompression, no extraction): the floor "
             "of the transfer, not a pull to a usable root filesystem; the targets are judged against "
             "skopeo → containers-storage, which does the same work as vmvc.")


def _ratios(ctx: SuiteContext, image: str) -> None:
    """This image's ratios (vmvc's median over each anchor's) as facts and a note, with the targets."""
    import statistics

    med = {m: statistics.median(s.value for s in ctx.samples if s.method == m and s.labels["image"] == image)
           for m in (VMVC, SKOPEO, DOCKER) if any(s.method == m and s.labels["image"] == image
                                                   for s in ctx.samples)}
    if VMVC not in med:
        return
    said = []
    for anchor, target, word in ((SKOPEO, SKOPEO_TARGET, "skopeo"), (DOCKER, DOCKER_TARGET, "dockerd")):
        if anchor in med:
            ratio = med[VMVC] / med[anchor]
            ctx.fact(f"vmvc/{word} {image}", round(ratio, 3))
            said.append(f"{ratio:.2f}× {anchor}'s time (target ≤ {target:.2f}×: "
                        f"{'met' if ratio <= target else 'not met'})")
    ctx.note(f"{image}: vmvc pull takes " + "; ".join(said) + ".")


def _remove(path: str) -> None:
    """A destination dir, after unmounting what containers-storage mounted under it."""
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split()[4] for line in f if line.split()[4].startswith(path + "/")]
    for target in sorted(mounts, key=len, reverse=True):
        subprocess.run(["umount", "-l", target], check=False, capture_output=True)
    shutil.rmtree(path, ignore_errors=True)


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
    """(image, vmvc ms, vmvc/skopeo-to-containers-storage, vmvc/dockerd) per image measured."""
    out = []
    for s in res.summaries(NAME):
        if s.method != VMVC:
            continue
        labels = dict(s.labels)
        sk = res.get(NAME, SKOPEO, "pull", **labels)
        dk = res.get(NAME, DOCKER, "pull", **labels)
        out.append((labels.get("image", "?"), s.median, s.median / sk.median if sk else None,
                    s.median / dk.median if dk else None))
    return out


def chart(res: Results, ax) -> None:
    rows = [s for s in res.summaries(NAME)]
    if not rows:
        return
    names = [f"{s.method}\n{s.labels.get('image')} ({s.labels.get('mb')} MB)" for s in rows]
    bars = ax.barh(names, [s.median for s in rows],
                   color=[{VMVC: "#2a9d8f", SKOPEO_OCI: "#dde3ea"}.get(s.method, "#8d99ae") for s in rows])
    for bar, s in zip(bars, rows, strict=True):
        if s.method == SKOPEO_OCI:
            bar.set_hatch("//")  # fetch and verify only: no decompression, no extraction
    ax.set_xlabel("pull from a loopback registry, median ms (hatched: fetch only, not extracted)")
    ax.invert_yaxis()
