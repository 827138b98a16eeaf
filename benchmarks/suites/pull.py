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

    rounds = 3 if ctx.quick else 7
    counter = itertools.count()
    work = str(ctx.workdir)

    def fresh(kind: str) -> str:
        return os.path.join(work, f"{kind}-{next(counter)}")

    with seeded_hub(work, big=not ctx.quick) as (hub, images):
        dockerd = _dockerd(ctx)
        try:
            for image, mb in images.items():
                ref = f"{hub.host}/library/{image}:latest"

                def vmvc_pull(ref=ref):
                    store = private_store(fresh("vmvc"))
                    t = time.perf_counter()
                    pull(store, ref, config={})
                    return (time.perf_counter() - t) * 1000

                def skopeo(dest_kind: str, ref=ref):
                    dest = fresh("skopeo")
                    target = (f"oci:{dest}:x" if dest_kind == "oci" else
                              f"containers-storage:[overlay@{dest}/root+{dest}/run]{ref}")
                    t = time.perf_counter()
                    try:
                        subprocess.run(["skopeo", "copy", "--quiet", "--src-tls-verify=false", f"docker://{ref}",
                                        target], check=True, capture_output=True, timeout=600)
                        return (time.perf_counter() - t) * 1000
                    finally:
                        _remove(dest)

                methods = {VMVC: vmvc_pull, SKOPEO: lambda: skopeo("storage"),
                           SKOPEO_OCI: lambda: skopeo("oci")}
                if dockerd is not None:
                    def docker_pull(ref=ref):
                        t = time.perf_counter()
                        dockerd.docker("pull", "-q", ref, timeout=600)
                        ms = (time.perf_counter() - t) * 1000
                        dockerd.docker("rmi", ref, check=False)
                        return ms

                    methods[DOCKER] = docker_pull
                advance = ctx.progress(f"pull: {image} ({mb} MB)", (rounds + 1) * len(methods))
                for r, m in ctx.rounds(list(methods), rounds, warmup=1):
                    ms = methods[m]()
                    if r >= 0:
                        ctx.sample(m, "pull", ms, "ms", round=r, image=image, mb=mb)
                    advance(1)
                    for d in os.listdir(work):
                        if d.startswith(("vmvc-", "skopeo-")):
                            _remove(os.path.join(work, d))
        finally:
            if dockerd is not None:
                dockerd.stop()
    ctx.note("Every pull starts from an empty destination; the registry is on loopback, so these times are "
             "the clients' own work (HTTP, hashing, decompressing, writing, extracting), not the network's. "
             "The images' layers are gzip-compressed, as Docker Hub serves them. The skopeo → oci row only "
             "fetches and verifies the compressed blobs (no decompression, no extraction): it is the floor "
             "of the transfer, not a pull to a usable root filesystem; the targets are judged against "
             "skopeo → containers-storage, which does the same work as vmvc.")


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
    ax.barh(names, [s.median for s in rows], color=["#2a9d8f" if s.method == VMVC else "#8d99ae"
                                                    for s in rows])
    ax.set_xlabel("pull from a loopback registry, median ms")
    ax.invert_yaxis()
