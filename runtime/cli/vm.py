"""``vmvc vm …``: boot real VMs with a phase timeline, fetch kernels, run the Python hypervisor."""

from __future__ import annotations

import sys

from runtime.cli.args import parse, parser
from runtime.cli.output import print_json, table
from runtime.errors import UsageError


def vm(argv: list[str]) -> int:
    """Boot and measure virtual machines (QEMU, pyvmm)"""
    from runtime.cli.dispatch import subcommands

    return subcommands("vmvc vm", argv, {
        "boot": ("runtime.cli.vm:boot", "Boot a VM (QEMU) and show where the time goes"),
        "fetch-kernel": ("runtime.cli.vm:fetch_kernel", "Download a Debian cloud kernel into the cache"),
        "kernels": ("runtime.cli.vm:kernels", "List cached kernels and verify their hashes"),
        "accel": ("runtime.cli.vm:accel", "Show which accelerator 'auto' picks here, and why"),
        "initramfs": ("runtime.cli.vm:initramfs", "Write the guest initramfs (or list one)"),
        "pyvmm": ("runtime.cli.vm:pyvmm", "Run tiny guests on the Python hypervisor, count VM exits"),
        "image": ("runtime.cli.vm:image", "Build, list or export the full Debian guest image"),
        "create-from-nothing": ("runtime.cli.vm:from_nothing",
                                "Time a Debian VM and a Debian container from nothing to running"),
    })


def _mib(n: int) -> str:
    return f"{n / 2**20:.0f} MiB"


def _machines(text: str) -> list[str]:
    from runtime.vm.qemu import MACHINES

    names = MACHINES if text == "all" else [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in names if m not in MACHINES]
    if bad or not names:
        raise UsageError(f"unknown machine '{','.join(bad) or text}' (choose {', '.join(MACHINES)} or all)")
    return list(names)


def boot(argv: list[str]) -> int:
    """Boot a VM (QEMU) and show where the time goes"""
    from runtime.vm.initramfs import SERVICES

    p = parser("vmvc vm boot", "Boot a real VM under QEMU and print its phase timeline.", 2)
    p.add_argument("--os", default="initramfs", choices=["initramfs", "debian"],
                   help="initramfs: our busybox /init (default); debian: the full Debian guest with systemd")
    p.add_argument("--machine", default=None, help="microvm, pc, q35, a comma list, or all "
                   "(default: microvm; q35 with --os debian)")
    p.add_argument("--accel", default="auto", choices=["auto", "kvm", "tcg"])
    p.add_argument("--services", type=int, default=0, metavar="N",
                   help=f"start N distro-like services before the workload (0-{len(SERVICES)})")
    p.add_argument("--workload", default=None, metavar="CMD", help="shell command run by busybox sh")
    p.add_argument("--kernel", default=None, metavar="PATH", help="guest kernel (default: the cache)")
    p.add_argument("--pvh", action="store_true",
                   help="boot the uncompressed vmlinux via its PVH entry (no setup code, no decompression)")
    p.add_argument("--memory", type=int, default=None, metavar="MB",
                   help="guest RAM (default: 256; 512 for debian)")
    disk = p.add_mutually_exclusive_group()
    disk.add_argument("--overlay", dest="disk", action="store_const", const="overlay", default="overlay",
                      help="debian: a thin qcow2 overlay of the cached base (default)")
    disk.add_argument("--copy", dest="disk", action="store_const", const="copy",
                      help="debian: a full copy of the cached base disk")
    p.add_argument("--cpus", type=int, default=1)
    p.add_argument("--timeout", type=float, default=None, metavar="S", help="default: 120; 1800 for debian")
    p.add_argument("--console", action="store_true", help="print the guest console as it arrives")
    p.add_argument("--plot", metavar="PNG", help="save the timeline as a picture")
    p.add_argument("--json", action="store_true")
    args = parse(p, argv)
    if args.os == "debian":
        return boot_debian(args, _machines(args.machine or "q35"))
    args.machine, args.memory = args.machine or "microvm", args.memory or 256
    args.timeout = args.timeout or 120.0
    if not 0 <= args.services <= len(SERVICES):
        raise UsageError(f"--services must be between 0 and {len(SERVICES)}")
    from runtime.vm.boot import DEFAULT_WORKLOAD
    from runtime.vm.boot import boot as boot_vm

    if args.kernel is None:
        _ensure_kernel(quiet=args.json)
    reports = []
    for machine in _machines(args.machine):
        on_line = (lambda ln: print(f"{ln.t:8.3f}  {ln.text}", file=sys.stderr)) if args.console else None
        with _status(f"booting {machine}", quiet=args.json or args.console):
            report = boot_vm(args.workload or DEFAULT_WORKLOAD, machine, args.accel, args.services,
                             args.kernel, args.memory, args.cpus, args.timeout, on_line=on_line,
                             pvh=args.pvh)
        reports.append(report)
        if not args.json:
            _print_timeline(report)
    if args.plot:
        from runtime.vm import plot

        plot.save({r.timeline.info["machine"]: r.timeline for r in reports}, args.plot)
        if not args.json:
            print(f"plot: {args.plot}")
    if args.json:
        print_json(reports[0].to_dict() if len(reports) == 1 else [r.to_dict() for r in reports])
    codes = [r.timeline.workload_exit for r in reports]
    return next((c if c is not None else 125 for c in codes if c != 0), 0)


def _ensure_kernel(quiet: bool) -> None:
    """Like ``docker run`` pulling a missing image: no guest kernel anywhere -> fetch one first."""
    from runtime.vm import kernel

    kernel.ensure_available(lambda: print("Unable to find a guest kernel locally; fetching the Debian "
                                          "cloud kernel (vmvc vm fetch-kernel)", file=sys.stderr))


class _status:
    """A rich spinner on stderr while QEMU runs (nothing when quiet)."""

    def __init__(self, text: str, quiet: bool) -> None:
        self.text, self.quiet, self.inner = text, quiet, None

    def __enter__(self):
        if not self.quiet:
            from rich.console import Console

            self.inner = Console(stderr=True).status(self.text)
            self.inner.__enter__()
        return self

    def __exit__(self, *exc):
        if self.inner is not None:
            self.inner.__exit__(*exc)


def _print_timeline(report) -> None:
    tl = report.timeline
    rows = []
    for phase in tl.phases:
        share = 100 * phase.seconds / tl.wall if tl.wall else 0
        guest = "" if phase.guest is None else f"{phase.guest:.3f}"
        rows.append([phase.name, f"{phase.start:.3f}", f"{phase.seconds:.3f}", f"{share:.1f}%", guest,
                     f"{phase.begins} → {phase.ends} ({phase.source})"])
    machine = tl.info.get("machine")
    entry = " (PVH direct boot)" if tl.info.get("kernel_entry") == "pvh" else ""
    table(f"{machine}{entry} via {report.decision.accel.upper()}: {tl.wall:.3f} s to exit",
          ["phase", "start s", "seconds", "share", "guest clock s", "evidence"], rows)
    print(f"accelerator: {report.decision.accel} ({report.decision.reason})")
    print(f"phases sum {tl.total:.3f} s, wall {tl.wall:.3f} s; QEMU peak RSS {_mib(tl.peak_rss)}, "
          f"peak PSS {_mib(tl.peak_pss)}; workload exit {tl.workload_exit}")
    prep = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in report.prep.items())
    print(f"host-side preparation (not in the timeline): {prep}; "
          f"initramfs {report.initrd_bytes / 1e6:.2f} MB")


def fetch_kernel(argv: list[str]) -> int:
    """Download a Debian cloud kernel into the cache"""
    p = parser("vmvc vm fetch-kernel", "apt-get download the Debian cloud kernel; keep only its vmlinuz, "
               "with its sha256.", 2)
    p.add_argument("--package", default=None, help="versioned package (default: what "
                   "linux-image-cloud-amd64 depends on)")
    p.add_argument("--kernel", default=None, metavar="PATH", help="cache this kernel file instead")
    p.add_argument("--force", action="store_true", help="download even if cached")
    p.add_argument("--json", action="store_true")
    args = parse(p, argv)
    from runtime.vm import kernel

    if args.kernel:
        k, fresh = kernel.store(kernel.from_path(args.kernel).path), True
    else:
        with _status("fetching kernel", quiet=args.json):
            k, fresh = kernel.fetch(args.package, force=args.force)
    if args.json:
        print_json({**k.to_dict(), "downloaded": fresh})
    else:
        print(f"{'fetched' if fresh else 'cached'}: {k.path}\nsha256: {k.sha256}")
    return 0


def kernels(argv: list[str]) -> int:
    """List cached kernels and verify their hashes"""
    p = parser("vmvc vm kernels", "Cached guest kernels, each re-hashed.", 2)
    p.add_argument("--json", action="store_true")
    args = parse(p, argv)
    from runtime.vm import kernel

    rows = [{**k.to_dict(), "verified": _verified(kernel.verify, k)} for k in kernel.cached()]
    if args.json:
        print_json(rows)
    else:
        table("cached kernels", ["version", "sha256", "verified", "path"],
              [[r["version"], r["sha256"][:16], r["verified"], r["path"]] for r in rows])
    return 0 if all(r["verified"] == "ok" for r in rows) else 125


def _verified(verify, thing) -> str:
    """``ok``, or why ``verify(thing)`` refused it."""
    from runtime.errors import VmvcError

    try:
        verify(thing)
    except VmvcError as e:
        return str(e)
    return "ok"


def accel(argv: list[str]) -> int:
    """Show which accelerator 'auto' picks here, and why"""
    p = parser("vmvc vm accel", "Decide KVM or TCG from evidence, and explain.", 2)
    p.add_argument("--accel", default="auto", choices=["auto", "kvm", "tcg"])
    p.add_argument("--json", action="store_true")
    args = parse(p, argv)
    from runtime.vm.accel import decide

    d = decide(args.accel)
    if args.json:
        print_json(d.to_dict())
    else:
        print(f"{d.accel} ({d.seconds * 1000:.0f} ms): {d.reason}")
    return 0


def initramfs(argv: list[str]) -> int:
    """Write the guest initramfs (or list one)"""
    p = parser("vmvc vm initramfs", "Write the guest's initramfs (newc cpio + gzip), or list one.", 2)
    p.add_argument("path")
    p.add_argument("--workload", default=None, metavar="CMD")
    p.add_argument("--services", type=int, default=0, metavar="N")
    p.add_argument("--list", action="store_true", help="list the archive at PATH instead of writing it")
    args = parse(p, argv)
    from runtime.errors import NotFound
    from runtime.vm import initramfs as ir
    from runtime.vm.boot import DEFAULT_WORKLOAD

    if args.list:
        try:
            with open(args.path, "rb") as f:
                entries = ir.parse(f.read())
        except OSError as e:
            raise NotFound(f"{args.path}: {e.strerror}") from None
        except ValueError as e:
            raise UsageError(f"{args.path}: {e}") from None
        for e in entries:
            print(f"{e.kind:8} {len(e.data):>9}  {e.name}")
        return 0
    try:
        ir.write(args.path, args.workload or DEFAULT_WORKLOAD, args.services)
    except ValueError as e:
        raise UsageError(str(e)) from None
    import os

    print(f"{args.path}: {os.path.getsize(args.path)} bytes")
    return 0


def pyvmm(argv: list[str]) -> int:
    """Run tiny guests on the Python hypervisor, count VM exits"""
    from runtime.vm.pyvmm import guests as g

    p = parser("vmvc vm pyvmm", "Run guest programs on pyvmm (KVM ioctls from Python), count VM exits.", 2)
    p.add_argument("--guest", default="all", help=f"{', '.join(g.PROGRAMS)} or all")
    p.add_argument("--mode", default="real", choices=["real", "protected", "long", "all"])
    p.add_argument("-n", type=int, default=None, help="iterations for loop/ports")
    p.add_argument("--trace", action="store_true", help="list every VM exit as the hypervisor saw it")
    p.add_argument("--json", action="store_true")
    args = parse(p, argv)
    names = list(g.PROGRAMS) if args.guest == "all" else [args.guest]
    modes = ["real", "protected", "long"] if args.mode == "all" else [args.mode]
    if any(n not in g.PROGRAMS for n in names):
        raise UsageError(f"unknown guest '{args.guest}' (choose {', '.join(g.PROGRAMS)} or all)")
    outcomes = []
    for mode in modes:
        for name in names:
            if not g.supports(name, mode):
                continue
            outcomes.append(g.run(name, mode, args.n, trace=args.trace))
    if args.json:
        print_json([o.to_dict() for o in outcomes])
        return 0
    rows = []
    for o in outcomes:
        s = o.stats
        exits = ", ".join(f"{r} {c}" for r, c in s.counts.items())
        per_exit = ", ".join(f"{r} {s.handle_s[r] / c * 1e6:.0f}" for r, c in s.counts.items())
        rows.append([o.guest, o.mode, repr(o.serial) if o.serial else "", exits, per_exit,
                     f"{s.in_guest_s * 1e3:.2f}", f"{o.seconds * 1e3:.2f}", f"{o.regs['rax']:#x}"])
    table("pyvmm: VM exits by reason", ["guest", "mode", "serial", "exits", "handling µs/exit",
                                        "in KVM_RUN ms", "whole VM ms", "rax"], rows)
    for o in outcomes if args.trace else []:
        table(f"{o.guest} ({o.mode} mode): every VM exit", ["#", "reason", "what the guest did",
                                                            "µs in guest before", "µs handling"],
              [[str(i), e.reason, e.detail, f"{e.guest_us:.1f}", f"{e.handle_us:.1f}"]
               for i, e in enumerate(o.trace, 1)])
    return 0


# -- the full Debian guest (runtime.vm.debian) ---------------------------------------------------------
class _BuildProgress:
    """A rich progress display of the image build's stages, with mmdebstrap's own step as detail."""

    def __init__(self, quiet: bool) -> None:
        self.quiet, self.bar, self.task, self.stage = quiet, None, None, None

    def __enter__(self):
        if not self.quiet:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self.bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                MofNCompleteColumn(), TimeElapsedColumn(), console=Console(stderr=True),
                                transient=True)
            self.bar.__enter__()
        return self

    def __call__(self, stage: str, detail: str) -> None:
        from runtime.vm.debian.build import STAGES

        if self.bar is None:
            return
        if self.task is None:
            self.task = self.bar.add_task(stage, total=len(STAGES))
        if stage != self.stage and stage in STAGES:
            self.bar.update(self.task, completed=STAGES.index(stage))
        self.stage = stage
        text = detail.removeprefix("I: ")[:70] if detail else ""
        self.bar.update(self.task, description=f"{stage}{': ' + text if text else ''}")

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)


def _recipe(args):
    from runtime.vm.debian import recipe

    packages = None if args.packages is None else [p for p in args.packages.split(",") if p.strip()]
    return recipe.make(args.release, packages, args.size)


def _recipe_args(p) -> None:
    from runtime.vm.debian import recipe

    p.add_argument("--release", default=recipe.DEFAULT_RELEASE, help="Debian suite (default: bookworm)")
    p.add_argument("--packages", default=None, metavar="P1,P2",
                   help=f"services beyond the base set (default: {','.join(recipe.SERVICES)}; '' for none)")
    p.add_argument("--size", default=recipe.DEFAULT_SIZE, help="virtual size of the root disk (default: 2G)")


def image(argv: list[str]) -> int:
    """Build, list or export the full Debian guest image"""
    from runtime.cli.dispatch import subcommands

    return subcommands("vmvc vm image", argv, {
        "build": ("runtime.cli.vm:image_build", "Build the Debian guest (mmdebstrap, ext4, qcow2), cached"),
        "ls": ("runtime.cli.vm:image_ls", "List cached Debian guest images"),
        "export-container": ("runtime.cli.vm:image_export",
                             "Import the guest's root filesystem into the image store as a container image"),
    })


def image_build(argv: list[str]) -> int:
    """Build the Debian guest (mmdebstrap, ext4, qcow2), cached"""
    p = parser("vmvc vm image build", "Build a Debian guest from the archive with its own kernel, initrd and "
               "systemd; cached by content (a second build is instant).", 2)
    _recipe_args(p)
    p.add_argument("--force", action="store_true", help="rebuild even if cached")
    p.add_argument("--json", action="store_true")
    args = parse(p, argv)
    from runtime.vm.debian import build

    rec = _recipe(args)
    with _BuildProgress(quiet=args.json) as progress:
        img, built = build.build(rec, force=args.force, progress=progress)
    if args.json:
        print_json({**img.to_dict(), "built_now": built})
        return 0
    m = img.manifest
    b = m["bytes"]
    print(f"{'built' if built else 'cached'}: Debian {m['os_release']['PRETTY_NAME']} ({img.key}), kernel "
          f"{m['kernel']}\n{img.directory}")
    print(f"rootfs {_mib(b['rootfs'])}, qcow2 base {_mib(b['base.qcow2'])}, initrd {_mib(b['initrd.img'])}, "
          f"tarball {_mib(b['rootfs.tar'])}; packages: {', '.join(m['recipe']['packages'])}")
    if built:
        print("build: " + ", ".join(f"{k} {v:.1f} s" for k, v in m["seconds"].items()))
    return 0


def image_ls(argv: list[str]) -> int:
    """List cached Debian guest images"""
    p = parser("vmvc vm image ls", "Cached Debian guest images (use --verify to re-hash them).", 2)
    p.add_argument("--verify", action="store_true")
    p.add_argument("--json", action="store_true")
    args = parse(p, argv)
    from runtime.vm.debian import image as cache

    rows = [{**img.to_dict(), "verified": _verified(cache.verify, img) if args.verify else "not checked"}
            for img in cache.cached()]
    if args.json:
        print_json(rows)
    else:
        table("Debian guest images", ["key", "release", "kernel", "base", "verified", "packages"],
              [[r["recipe"]["key"], r["os_release"]["PRETTY_NAME"], r["kernel"],
                _mib(r["bytes"]["base.qcow2"]), r["verified"], ",".join(r["recipe"]["packages"])]
               for r in rows])
    return 0 if all(r["verified"] in ("ok", "not checked") for r in rows) else 125


def image_export(argv: list[str]) -> int:
    """Import the guest's root filesystem into the image store as a container image"""
    p = parser("vmvc vm image export-container", "Import the Debian guest's root filesystem into vmvc's "
               "image store (building the guest first if needed).", 2)
    _recipe_args(p)
    p.add_argument("--tag", default=None, help="image reference (default: debian:<release>)")
    p.add_argument("--json", action="store_true")
    args = parse(p, argv)
    from runtime.vm.debian import build, container

    rec = _recipe(args)
    with _BuildProgress(quiet=args.json) as progress:
        img, _ = build.build(rec, progress=progress)
    with _status("importing the rootfs", quiet=args.json):
        out = container.export(img, args.tag or f"debian:{rec.release}")
    if args.json:
        print_json(out)
    else:
        print(f"{out['tag']}: {out['id']} ({_mib(out['size'])}, imported in {out['import_seconds']:.1f} s)")
    return 0


def boot_debian(args, machines: list[str]) -> int:
    """``vmvc vm boot --os debian``: the full guest, its own kernel and initrd, to multi-user.target."""
    import time

    from runtime.vm.debian import boot as debian_boot
    from runtime.vm.debian import build, recipe

    rec = recipe.make()
    if args.kernel or args.pvh or args.workload or args.services:
        raise UsageError("--kernel, --pvh, --workload and --services apply to --os initramfs only")
    reports = []
    for machine in machines:
        on_line = (lambda ln: print(f"{ln.t:8.3f}  {ln.text}", file=sys.stderr)) if args.console else None
        t = time.perf_counter()
        with _BuildProgress(quiet=args.json or args.console) as progress:
            img, built = build.build(rec, progress=progress, needs=debian_boot.BOOT_FILES)
        prepared = time.perf_counter() - t
        with _status(f"booting Debian on {machine}", quiet=args.json or args.console):
            report = debian_boot.boot(machine, args.memory or 512, args.cpus, args.accel, args.disk, rec,
                                      timeout=args.timeout or debian_boot.TIMEOUT, on_line=on_line, img=img)
        report.prep = {"image_build" if built else "image_verify": prepared, **report.prep}
        reports.append(report)
        if not args.json:
            _print_timeline(report)
            _print_systemd(report)
    if args.plot:
        from runtime.vm import plot

        plot.save({f"{r.timeline.info['machine']} (debian)": r.timeline for r in reports}, args.plot,
                  "Debian VM boot timeline")
        if not args.json:
            print(f"plot: {args.plot}")
    if args.json:
        print_json(reports[0].to_dict() if len(reports) == 1 else [r.to_dict() for r in reports])
    return 0


def _print_systemd(report) -> None:
    s = report.systemd
    mark = report.multi_user
    print(f"multi-user.target marker {mark:.3f} s after QEMU start; "
          f"memory {report.timeline.info['memory_mb']} MiB, "
          f"disk {report.disk['mode']} ({_mib(report.disk['bytes_at_start'])} → "
          f"{_mib(report.disk['bytes_at_end'])}); image {report.image['key']} ({s.os or '?'})")
    if report.cpu_to_multi_user is not None:
        print(f"QEMU CPU time to the marker: {report.cpu_to_multi_user:.1f} s (TCG: one thread per vCPU)")
    for line in s.time:
        print(f"systemd-analyze: {line}")
    if s.blame:
        table("slowest units (systemd-analyze blame, guest clock)", ["unit", "seconds"],
              [[unit, f"{sec:.3f}"] for unit, sec in s.blame[:10]])


def from_nothing(argv: list[str]) -> int:
    """Time a Debian VM and a Debian container from nothing to running"""
    p = parser("vmvc vm create-from-nothing", "The whole path to a running Debian for each side: VM = image "
               "build + boot to multi-user.target; container = import of the same rootfs + start.", 2)
    p.add_argument("--warm", action="store_true", help="reuse the cached VM image (default: rebuild it)")
    p.add_argument("--machine", default="q35", choices=["q35", "pc", "microvm"])
    p.add_argument("--memory", type=int, default=512, metavar="MB")
    p.add_argument("--accel", default="auto", choices=["auto", "kvm", "tcg"])
    p.add_argument("--plot", metavar="PNG", help="chart both sides on a log scale, with a microVM "
                   "(tiny /init) boot for scale")
    p.add_argument("--json", action="store_true")
    args = parse(p, argv)
    from runtime.vm.debian.nothing import from_nothing as run

    with _BuildProgress(quiet=args.json) as progress:
        out = run(cold=not args.warm, machine=args.machine, memory_mb=args.memory, accel=args.accel,
                  progress=progress)
    if args.plot:
        from runtime.vm.boot import boot as boot_vm
        from runtime.vm.debian import chart

        _ensure_kernel(quiet=args.json)
        with _status("booting a microVM with the tiny /init, for scale", quiet=args.json):
            out["microvm_init_seconds"] = boot_vm(machine="microvm", accel=args.accel).timeline.wall
        chart.save(chart.bars(out, out["microvm_init_seconds"]), args.plot, out["accel"])
    if args.json:
        print_json(out)
        return 0
    vm, ct = out["vm"], out["container"]
    rows = [["VM", "image build" + (" (cold)" if vm["cold"] else " (cached)"), f"{vm['build_seconds']:.1f}"],
            ["VM", "verify + disk + accelerator", f"{sum(vm['prep_seconds'].values()):.1f}"],
            ["VM", "boot to multi-user.target", f"{vm['boot_to_multi_user']:.1f}"],
            ["VM", "total", f"{vm['total']:.1f}"],
            ["container", "verify + import rootfs", f"{ct['verify_seconds'] + ct['import_seconds']:.1f}"],
            ["container", "first start (incl. spawner)", f"{ct['first_start_seconds']:.2f}"],
            ["container", "total", f"{ct['total']:.1f}"],
            ["container", "a second start", f"{ct['warm_start_seconds']:.3f}"]]
    table(f"Debian from nothing: {out['machine']}, {out['memory_mb']} MiB, {out['accel'].upper()}",
          ["side", "step", "seconds"], rows)
    print(f"accelerator: {out['accel']} ({out['accel_reason']})")
    if args.plot:
        print(f"plot: {args.plot} (microVM with the tiny /init: {out['microvm_init_seconds']:.1f} s)")
    print(f"VM / container: {out['ratio_vm_to_container']:.0f}x; "
          f"both run {ct['os_release'] or out['vm_os_release']}")
    return 0
