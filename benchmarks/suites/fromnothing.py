"""Create from nothing (claim C9): a full Debian VM built from the archive and booted to
``multi-user.target``, against the same userland imported as an image and started as a container.

The path itself is :func:`runtime.vm.debian.nothing.from_nothing` (issue 13): mmdebstrap → kernel + initrd
→ ext4 → qcow2, then a boot under QEMU; the container side imports the same rootfs and starts it. The
build takes minutes, so ``--quick`` measures only when a built image is cached already (boot and import
alone, said so), and ``--full`` builds it when it is not.
"""

from __future__ import annotations

from benchmarks.suite import ClaimRow, NotMeasured, Results, SuiteContext

NAME = "fromnothing"
TITLE = "Create from nothing: a full Debian VM vs a container of the same userland"
NEEDS = ["root", "overlayfs", "cgroups", "qemu"]
CLAIMS = ["C9"]


def _cached() -> bool:
    from runtime.vm.debian import image, recipe

    return image.lookup(recipe.make().key()) is not None


def run(ctx: SuiteContext) -> None:
    import shutil

    from runtime.vm.debian import nothing

    cached = _cached()
    if ctx.quick and not cached:
        raise NotMeasured("--quick does not build a Debian VM image (minutes); `vmvc bench --full` does, "
                          "or `vmvc vm image build` beforehand")
    if not cached and not shutil.which("mmdebstrap"):
        raise NotMeasured("no Debian image cached and no mmdebstrap to build one "
                          "(apt-get install mmdebstrap)")
    cold = not cached
    advance = ctx.progress("Debian VM " + ("build + boot" if cold else "boot (image cached)"), 2)
    stages = []

    def progress(stage: str, detail: str) -> None:
        stages.append(stage)
        advance(0, f"{stage}: {detail}"[:60])

    out = nothing.from_nothing(cold=cold, progress=progress)
    advance(2, "done")
    vm, ct = out["vm"], out["container"]
    labels = {"accel": out["accel"], "machine": out["machine"]}
    ctx.sample("vm", "total", vm["total"], "s", cold=cold, **labels)
    if cold:
        ctx.sample("vm", "build", vm["build_seconds"], "s", **labels)
    ctx.sample("vm", "boot_to_multi_user", vm["boot_to_multi_user"], "s", **labels)
    ctx.sample("container", "total", ct["total"], "s")
    ctx.sample("container", "import", ct["import_seconds"], "s")
    ctx.sample("container", "first_start", ct["first_start_seconds"], "s")
    ctx.sample("container", "warm_start", ct["warm_start_seconds"], "s")
    ctx.fact("cold", cold)
    ctx.fact("accelerator", out["accel"])
    ctx.fact("accelerator_reason", out["accel_reason"])
    ctx.fact("vm_os", out.get("vm_os_release"))
    ctx.fact("container_os", ct.get("os_release"))
    if not cold:
        ctx.note("The Debian image was cached: the VM side is verify + boot, without the mmdebstrap build.")


def claims(res: Results) -> list[ClaimRow]:
    vm = next((s for s in res.summaries(NAME) if s.method == "vm" and s.metric == "total"), None)
    ct = res.median(NAME, "container", "total")
    if vm is None or ct is None:
        return []
    cold = bool(vm.labels.get("cold"))
    boot = res.median(NAME, "vm", "boot_to_multi_user", accel=vm.labels["accel"],
                      machine=vm.labels["machine"])
    text = (f"a Debian VM {'built from the archive and ' if cold else ''}booted to multi-user.target: "
            f"{vm.median:.0f} s ({vm.labels['accel']}; boot alone {boot or 0:.0f} s); the same userland as a "
            f"container, imported and started: {ct:.1f} s")
    minutes, seconds = vm.median >= 60, ct < 60
    if minutes and seconds:
        verdict, reason = ("reproduced with a caveat" if vm.labels["accel"] == "tcg" else "reproduced"), ""
    elif vm.median / max(ct, 1e-9) >= 10:
        verdict = "reproduced with a caveat"
        reason = "the VM is far slower, but " + ("took under a minute" if not minutes else
                                                 "the container took more than a few seconds")
    else:
        verdict, reason = "not reproduced here", "the VM was not much slower than the container"
    extra = ["the VM boots under TCG emulation (no VT-x/AMD-V here)" if vm.labels["accel"] == "tcg" else "",
             "" if cold else "the image was cached: the build is not in the VM's time"]
    reason = "; ".join(r for r in (reason, *extra) if r)
    return [ClaimRow("C9", text, verdict, reason)]


def chart(res: Results, ax) -> None:
    rows = [(s.method, s.metric, s.median) for s in res.summaries(NAME)]
    rows.sort(key=lambda r: (r[0], -r[2]))
    ax.barh([f"{m}: {k}" for m, k, _ in rows], [v for _, _, v in rows],
            color=["#c62828" if m == "vm" else "#1565c0" for m, _, _ in rows])
    ax.set_xscale("log")
    ax.set_xlabel("seconds (log scale)")
    ax.set_title("Create from nothing: Debian VM (red) vs container of the same userland (blue)")
    ax.invert_yaxis()
