"""Footprint: what one more instance costs the host in memory and on disk, container vs VM, as N grows.

Memory (sleeping instances, measured at each N while they run):

* **containers**: N ``busybox sleep`` containers started one after another by the engine (private
  ``$VMVC_ROOT``, spawner warmed first). Measured: the PSS of everything vmvc runs (spawner + janitor +
  every container's processes), the containers' cgroup ``memory.usage`` (page cache and kernel memory
  charged to them) and the host's ``MemAvailable`` drop since the baseline (the bluntest figure, and the
  noisiest on a shared host: other work moves it by more than a container costs);
* **VMs**: N QEMU guests (``-M microvm``, 256 MiB, the busybox initramfs, the doctor's accelerator)
  booted at once to a sleeping workload; measured at N, then one is stopped and N-1 measured, down to 1
  (one storm of boots instead of N). Per VM: QEMU's PSS and RSS, and the guest's own view
  (``MemTotal - MemAvailable`` from its ``/proc/meminfo``).

The per-instance cost is the slope of the total over N (least squares), so fixed costs (the engine,
the shared image pages) do not count per instance. Density (C11) divides this host's ``MemTotal`` by
that slope: an extrapolation from measured costs, not instances actually started (the report says so).

Disk per instance, for N = 1 … 16 (files actually created, bytes allocated on disk):

* a container's own directory (its overlay ``upper`` dir, config and log), the image's layer shared
  by all (C6: one image, many containers);
* a VM with a full copy of its disk image each (an ext4 image of the same busybox rootfs plus the guest
  kernel in ``/boot``, made with ``mke2fs -d``, copied sparsely);
* a VM with a qcow2 overlay on one shared base image (``qemu-img create -f qcow2 -b base -F raw``): the
  fair VM case, what a cloud does.

Run it alone: ``python -m benchmarks.suites.footprint [--full]``.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time

from benchmarks.suite import ClaimRow, Results, SuiteContext, log_axes_over_n

NAME = "footprint"
TITLE = "Footprint: memory and disk per instance"
NEEDS = ["root", "overlayfs", "cgroups", "busybox", "qemu"]
CLAIMS = ["C1", "C6", "C11"]

DISK_NS = (1, 2, 4, 8, 16)
VM_MEMORY_MB = 256
FIRECRACKER = "Firecracker (NSDI 2020): ≤5 MiB VMM overhead per microVM; LightVM (SOSP 2017): tiny VMs in MBs"
GUEST_VIEW = "grep -E '^(MemTotal|MemAvailable):' /proc/meminfo; echo VMVC-READY; exec sleep 3600"


def plan(quick: bool) -> dict:
    if quick:
        return {"ct_ns": (1, 2, 4, 8, 16), "vm_n": 2, "settle": 0.3}
    return {"ct_ns": (1, 2, 4, 8, 16, 32, 64), "vm_n": 4, "settle": 0.5}


def slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of y over x (None with fewer than two distinct x)."""
    xs = [x for x, _ in points]
    if len(set(xs)) < 2:
        return None
    mx, my = statistics.fmean(xs), statistics.fmean(y for _, y in points)
    return sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x in xs)


def disk_bytes(path: str) -> int:
    """Bytes allocated under ``path`` (blocks, hard links once)."""
    from runtime.images.store import _disk_usage

    return _disk_usage(path)


def mem_total_kib() -> int:
    with open("/proc/meminfo") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("MemTotal:"))


# -- containers ----------------------------------------------------------------------------------
def containers(ctx: SuiteContext, ns: tuple[int, ...], settle: float, advance) -> None:
    from benchmarks.density import pss_kib, remove_all
    from benchmarks.startup import private_root
    from benchmarks.storm_launch import mem_available_kib
    from runtime.containers import Engine, Spec
    from runtime.images import open_store

    with private_root("vmvc-bench-footprint-") as root:
        engine = Engine()
        ids: list[str] = []
        try:
            engine.run(Spec("busybox", ["true"], auto_remove=True))  # spawner up, image built, stem warm
            for _ in range(3):  # the allocator's steady state before the baseline (see density.py)
                with engine.run_session(Spec("busybox", ["sleep", "3600"]), attach=False) as s:
                    warm = s.reply["id"]
                engine.remove(warm, force=True)
            time.sleep(settle)
            ping = engine.spawner.request({"op": "ping"})
            engine_pids = [p for p in (ping.get("pid"), ping.get("janitor")) if p]
            base_engine = sum(map(pss_kib, engine_pids))
            base_avail = mem_available_kib()
            layers = disk_bytes(os.path.join(root, "images", "layers"))
            ctx.sample("container", "image_layers", layers / 2**20, "MiB")
            for n in ns:
                while len(ids) < n:
                    with engine.run_session(Spec("busybox", ["sleep", "3600"]), attach=False) as s:
                        ids.append(s.reply["id"])
                time.sleep(settle)
                states = [engine.inspect(cid) for cid in ids]
                procs = sum(pss_kib(st["State"]["Pid"]) for st in states)
                eng = sum(map(pss_kib, engine_pids)) - base_engine
                cgroup = sum(engine.stats(cid).get("memory_usage", 0) for cid in ids) / 1024
                avail = base_avail - mem_available_kib()
                own = sum(disk_bytes(os.path.join(root, "containers", cid)) for cid in ids)
                ctx.sample("container", "pss_total", (procs + eng) / 1024, "MiB", n=n)
                ctx.sample("container", "engine_pss_growth", eng / 1024, "MiB", n=n)
                ctx.sample("container", "own_pss_each", procs / n / 1024, "MiB", n=n)
                ctx.sample("container", "cgroup_usage_total", cgroup / 1024, "MiB", n=n)
                ctx.sample("container", "mem_available_drop", avail / 1024, "MiB", n=n)
                ctx.sample("container", "disk_total", (own + layers) / 2**20, "MiB", n=n)
                ctx.sample("container", "disk_own_total", own / 2**20, "MiB", n=n)
                advance(method=f"{n} containers")
            usage = open_store(os.path.join(root, "images")).disk_usage()
            ctx.fact("image_layer_bytes", usage.get("LayersSize"))
        finally:
            remove_all(engine, ids)


# -- VMs -----------------------------------------------------------------------------------------
def vms(ctx: SuiteContext, n_max: int, settle: float, advance) -> None:
    from benchmarks.storm_launch import Fleet, guest_kernel, mem_available_kib, rollup_kib
    from runtime.vm import accel as accel_mod
    from runtime.vm import qemu
    from runtime.vm.boot import initrd_file

    decision = accel_mod.decide("auto")
    ctx.fact("accelerator", decision.accel)
    kernel = guest_kernel()
    with initrd_file(GUEST_VIEW) as (initrd, _), Fleet() as fleet:
        time.sleep(settle)
        base_avail = mem_available_kib()
        spec = qemu.Spec(kernel.path, initrd, "microvm", decision.accel, memory_mb=VM_MEMORY_MB)
        for _ in range(n_max):
            fleet.vm(spec)
        fleet.wait("ready", timeout=120 + 60 * n_max)
        time.sleep(settle)
        for n in range(n_max, 0, -1):
            live = fleet.items[:n]
            pss = [rollup_kib(i.proc.pid, "Pss") / 1024 for i in live]
            rss = [rollup_kib(i.proc.pid, "Rss") / 1024 for i in live]
            for p, r in zip(pss, rss, strict=True):
                ctx.sample("vm", "qemu_pss", p, "MiB", n=n)
                ctx.sample("vm", "qemu_rss", r, "MiB", n=n)
            ctx.sample("vm", "pss_total", sum(pss), "MiB", n=n)
            ctx.sample("vm", "mem_available_drop", (base_avail - mem_available_kib()) / 1024, "MiB", n=n)
            for inst in live:
                used = guest_used_mib(inst.texts)
                if used is not None:
                    ctx.sample("vm", "guest_used", used, "MiB", n=n)
            advance(method=f"{n} VMs ({decision.accel})")
            if n > 1:
                qemu.kill_group(fleet.items[n - 1].proc)
                time.sleep(settle)
    ctx.note(
        f"VMs: QEMU -M microvm -m {VM_MEMORY_MB}, busybox initramfs, accelerator {decision.accel}: "
        f"QEMU's memory includes guest RAM the guest touched"
        + (
            " and TCG's translation cache (software emulation; KVM has none)"
            if decision.accel == "tcg"
            else ""
        )
    )


def guest_used_mib(lines: list[str]) -> float | None:
    """``MemTotal - MemAvailable`` (MiB) from the guest's own /proc/meminfo lines on its console."""
    found = {}
    for text in lines:
        parts = text.split()
        if len(parts) >= 2 and parts[0] in ("MemTotal:", "MemAvailable:") and parts[1].isdigit():
            found[parts[0]] = int(parts[1])
    if len(found) < 2:
        return None
    return (found["MemTotal:"] - found["MemAvailable:"]) / 1024


# -- disk ----------------------------------------------------------------------------------------
def disks(ctx: SuiteContext, workdir: str, advance) -> None:
    """A full image copy per VM vs a qcow2 overlay per VM on one base, N = 1 … 16 (files made)."""
    import io
    import tarfile

    from benchmarks.storm_launch import guest_kernel
    from runtime.images.builtin import busybox_layer

    if shutil.which("mke2fs") is None:
        ctx.note("VM disk images not measured: mke2fs (e2fsprogs) is missing")
        return
    base_dir = os.path.join(workdir, "vm-disk")
    rootfs = os.path.join(base_dir, "rootfs")
    os.makedirs(os.path.join(rootfs, "boot"), exist_ok=True)
    layer, _ = busybox_layer()
    with tarfile.open(fileobj=io.BytesIO(layer)) as tf:
        tf.extractall(rootfs)  # our own deterministic busybox layer (builtin.py)
    kernel = guest_kernel()
    shutil.copy(kernel.path, os.path.join(rootfs, "boot", "vmlinuz"))
    content = disk_bytes(rootfs)
    size_mib = max(32, int(content / 2**20 * 2) + 16)
    base = os.path.join(base_dir, "base.img")
    subprocess.run(
        ["mke2fs", "-q", "-F", "-t", "ext4", "-d", rootfs, "-L", "root", base, f"{size_mib}M"],
        check=True,
        capture_output=True,
    )
    ctx.sample("vm", "image_allocated", disk_bytes(base) / 2**20, "MiB")
    ctx.fact("vm_image_apparent_mib", size_mib)
    qemu_img = shutil.which("qemu-img")
    if qemu_img is None:
        ctx.note("qcow2 overlays not measured: qemu-img (qemu-utils) is missing")
    copies, overlays = [], []
    for n in range(1, max(DISK_NS) + 1):
        copy = os.path.join(base_dir, f"vm{n}.img")
        subprocess.run(["cp", "--sparse=always", base, copy], check=True)
        copies.append(copy)
        if qemu_img:
            ov = os.path.join(base_dir, f"vm{n}.qcow2")
            subprocess.run(
                [qemu_img, "create", "-q", "-f", "qcow2", "-b", base, "-F", "raw", ov],
                check=True,
                capture_output=True,
            )
            overlays.append(ov)
        if n in DISK_NS:
            ctx.sample("vm_full_copy", "disk_total", sum(map(disk_bytes, copies)) / 2**20, "MiB", n=n)
            if overlays:
                total = disk_bytes(base) + sum(map(disk_bytes, overlays))
                ctx.sample("vm_qcow2_overlay", "disk_total", total / 2**20, "MiB", n=n)
                ctx.sample(
                    "vm_qcow2_overlay", "disk_own_total", sum(map(disk_bytes, overlays)) / 2**20, "MiB", n=n
                )
            advance(method=f"{n} VM disks")
    shutil.rmtree(base_dir, ignore_errors=True)


def run(ctx: SuiteContext) -> None:
    import tempfile

    p = plan(ctx.quick)
    advance = ctx.progress("footprint", len(p["ct_ns"]) + p["vm_n"] + len(DISK_NS))
    ctx.fact("host_mem_total_mib", mem_total_kib() / 1024)
    containers(ctx, p["ct_ns"], p["settle"], advance)
    vms(ctx, p["vm_n"], p["settle"], advance)
    workdir = ctx.workdir or tempfile.mkdtemp(prefix="vmvc-bench-footprint-disk-")
    try:
        disks(ctx, str(workdir), advance)
    finally:
        if ctx.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


# -- claims and chart ----------------------------------------------------------------------------
def per_instance(res: Results, method: str, metric: str) -> float | None:
    """Slope over N of the medians of ``metric`` (MiB per instance)."""
    return slope(res.curve(NAME, method, metric))


def host_cost(res: Results, method: str) -> float | None:
    """MiB per instance from the host's MemAvailable drop (slope over N); None if not positive."""
    value = per_instance(res, method, "mem_available_drop")
    return value if value is not None and value > 0 else None


def claims(res: Results) -> list[ClaimRow]:
    rows = []
    accel = res.facts.get(NAME, {}).get("accelerator", "?")
    # the slope over N, floored by the containers' own processes: two noisy points can slope below zero
    own = [s.median for s in res.summaries(NAME) if s.method == "container" and s.metric == "own_pss_each"]
    ct = max([v for v in (per_instance(res, "container", "pss_total"), *own) if v is not None], default=None)
    vm = per_instance(res, "vm", "pss_total")
    vm_one = res.median(NAME, "vm", "qemu_pss", n=1)
    if vm is None:
        vm = vm_one
    ct_disk = per_instance(res, "container", "disk_total")
    full = per_instance(res, "vm_full_copy", "disk_total")
    cow = per_instance(res, "vm_qcow2_overlay", "disk_total")
    ct_host, vm_host = host_cost(res, "container"), host_cost(res, "vm")
    if ct is not None and vm is not None and ct > 0:
        measured = (
            f"memory per sleeping instance (PSS of what vmvc runs, slope over N): container "
            f"{ct * 1024:.0f} KiB, VM {vm:.0f} MiB (QEMU microvm -m {VM_MEMORY_MB}, {accel}): {vm / ct:.0f}×"
        )
        if ct_host and vm_host:
            measured += (
                f"; the host's view (MemAvailable drop per instance, noisy on a shared host): "
                f"container {ct_host:.1f} MiB, VM {vm_host:.0f} MiB: {vm_host / ct_host:.0f}×"
            )
        if ct_disk is not None and full is not None:
            measured += (
                f"; disk per instance: container {ct_disk * 1024:.0f} KiB, VM full copy "
                f"{full:.1f} MiB" + (f", VM qcow2 overlay {cow * 1024:.0f} KiB" if cow is not None else "")
            )
        if vm > ct:
            verdict = "reproduced with a caveat"
            reason = (
                "the guest is a 1 MB busybox initramfs with 256 MiB RAM; a qcow2 overlay on a shared "
                "base makes VM disks nearly as cheap as a container's"
            )
            if accel == "tcg":
                reason += "; QEMU here is TCG (its translation cache is counted)"
        else:
            verdict, reason = "not reproduced here", "a VM did not cost more memory than a container here"
        rows.append(ClaimRow("C1", measured, verdict, reason, FIRECRACKER))
    else:
        rows.append(
            ClaimRow(
                "C1",
                "memory per instance was not measured for both kinds",
                "not measured here",
                "the footprint suite did not finish both halves",
            )
        )
    layers = res.median(NAME, "container", "image_layers")
    own = res.curve(NAME, "container", "disk_own_total")
    n, own_n = own[-1] if own else (0, None)
    if layers is not None and own_n is not None and n > 1:
        measured = (
            f"{n} containers of one image: the image's layer {layers:.2f} MiB on disk once "
            f"(unshared it would be {n * layers:.1f} MiB), the containers' own dirs "
            f"{own_n * 1024:.0f} KiB together ({own_n * 1024 / n:.0f} KiB each)"
        )
        verdict = "reproduced" if own_n < (n - 1) * layers else "not reproduced here"
        rows.append(
            ClaimRow(
                "C6",
                measured,
                verdict,
                "" if verdict == "reproduced" else "the containers' own files outweighed the shared layer",
            )
        )
    else:
        rows.append(
            ClaimRow(
                "C6",
                "no run of several containers in this results file",
                "not measured here",
                "the footprint suite did not reach N = 16",
            )
        )
    total = res.facts.get(NAME, {}).get("host_mem_total_mib")
    if ct and vm and ct > 0:  # the larger of the user-space and the host's figure: no flattering density
        ct = max(ct, ct_host or 0, per_instance(res, "container", "cgroup_usage_total") or 0)
        vm = max(vm, vm_host or 0)
    if total and ct and vm and ct > 0:
        measured = (
            f"this host's {total / 1024:.1f} GiB would hold ~{total / ct:,.0f} sleeping containers or "
            f"~{total / vm:,.0f} idle VMs ({total / ct / (total / vm):.0f}× more containers), "
            f"extrapolated from the measured per-instance memory"
        )
        rows.append(
            ClaimRow(
                "C11",
                measured,
                "reproduced with a caveat",
                "extrapolated, not started: memory alone (pids, fds and CPU limits come first for "
                "containers); VMs at -m 256 with a tiny guest",
                "",
            )
        )
    else:
        rows.append(
            ClaimRow(
                "C11",
                "per-instance memory not measured for both kinds",
                "not measured here",
                "the footprint suite did not finish both halves",
            )
        )
    return rows


def chart(res: Results, ax) -> None:
    """Host memory (PSS) and disk of N instances, container vs VM, log scales."""
    series = [
        ("container", "pss_total", "containers: memory (PSS)", "tab:blue", "-o"),
        ("vm", "pss_total", "VMs: memory (QEMU PSS)", "tab:red", "-o"),
        ("container", "disk_total", "containers: disk (+ shared layer)", "tab:blue", ":s"),
        ("vm_full_copy", "disk_total", "VMs: disk, full copy each", "tab:red", ":s"),
        ("vm_qcow2_overlay", "disk_total", "VMs: disk, qcow2 overlay on a base", "tab:orange", ":^"),
    ]
    for method, metric, label, colour, style in series:
        pts = res.curve(NAME, method, metric)
        if pts:
            ax.plot(*zip(*pts, strict=True), style, color=colour, label=label)
    log_axes_over_n(ax, "instances (N)", "MiB on the host", "Footprint as N grows")


def main(argv: list[str] | None = None) -> int:
    from benchmarks.storm_launch import standalone

    return standalone(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
