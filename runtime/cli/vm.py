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
    p.add_argument("--machine", default="microvm", help="microvm, pc, q35, a comma list, or all")
    p.add_argument("--accel", default="auto", choices=["auto", "kvm", "tcg"])
    p.add_argument("--services", type=int, default=0, metavar="N",
                   help=f"start N distro-like services before the workload (0-{len(SERVICES)})")
    p.add_argument("--workload", default=None, metavar="CMD", help="shell command run by busybox sh")
    p.add_argument("--kernel", default=None, metavar="PATH", help="guest kernel (default: the cache)")
    p.add_argument("--pvh", action="store_true",
                   help="boot the uncompressed vmlinux via its PVH entry (no setup code, no decompression)")
    p.add_argument("--memory", type=int, default=256, metavar="MB")
    p.add_argument("--cpus", type=int, default=1)
    p.add_argument("--timeout", type=float, default=120.0, metavar="S")
    p.add_argument("--console", action="store_true", help="print the guest console as it arrives")
    p.add_argument("--plot", metavar="PNG", help="save the timeline as a picture")
    p.add_argument("--json", action="store_true")
    args = parse(p, argv)
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
    from runtime.errors import VmvcError
    from runtime.vm import kernel

    rows = []
    for k in kernel.cached():
        try:
            kernel.verify(k)
            ok = "ok"
        except VmvcError as e:
            ok = str(e)
        rows.append({**k.to_dict(), "verified": ok})
    if args.json:
        print_json(rows)
    else:
        table("cached kernels", ["version", "sha256", "verified", "path"],
              [[r["version"], r["sha256"][:16], r["verified"], r["path"]] for r in rows])
    return 0 if all(r["verified"] == "ok" for r in rows) else 125


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
