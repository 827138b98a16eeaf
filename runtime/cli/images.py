"""``vmvc images``, ``image …``, ``import``, ``load``, ``save``, ``rmi``, ``system df``: parse, call, print.

All logic lives in :mod:`runtime.images`; output follows docker's columns and messages.
"""

from __future__ import annotations

import sys
import time

from runtime.cli.args import parse, parser
from runtime.cli.output import human_size, print_json
from runtime.errors import VmvcError

STORE = None  # set by runtime.cli.remote (--host, VMVC_HOST): the same verbs through a daemon's API


def _store():
    if STORE is not None:
        return STORE
    from runtime.images import open_store

    return open_store()


def _columns(header: list[str], rows: list[list[str]]) -> None:
    """Docker's plain, space-aligned columns (no box drawing: easy to grep and to diff)."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("   ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _ago(iso: str) -> str:
    from runtime.images.shapes import epoch

    then = epoch(iso)
    if not then:
        return "N/A"
    from runtime.units import human_duration

    return human_duration(max(0, time.time() - then)) + " ago"


# -- listing ---------------------------------------------------------------------------------------
def images(argv: list[str]) -> int:
    """List images"""
    p = parser("vmvc images", "List images (REPOSITORY TAG IMAGE ID CREATED SIZE).")
    p.add_argument("repository", nargs="?", help="only this REPOSITORY[:TAG]")
    p.add_argument("-a", "--all", action="store_true", help="show all images (a build's steps too)")
    p.add_argument("-q", "--quiet", action="store_true", help="only image ids")
    p.add_argument("--no-trunc", action="store_true", help="full ids")
    p.add_argument("--json", action="store_true", help="docker API /images/json shape")
    args = parse(p, argv)
    from runtime.images import reference

    store = _store()
    found = store.images()
    if not args.all and STORE is None:  # a daemon hid them already (runtime.cli.remote asks for -a)
        from runtime.images.intermediates import hidden

        steps = hidden(store, found)
        found = [i for i in found if i.id not in steps]
    keep = lambda tag: True
    if args.repository:
        want = reference.normalise(args.repository)
        if ":" in args.repository.rsplit("/", 1)[-1]:
            keep = lambda tag: tag == want
        else:
            keep = lambda tag: tag.rpartition(":")[0] == want.rpartition(":")[0]
        found = [i for i in found if any(keep(t) for t in i.tags)]
    if args.json:
        from runtime.images.shapes import summary

        print_json([summary(store, i) for i in found])
        return 0
    short = (lambda i: i.id) if args.no_trunc else (lambda i: i.short_id)
    if args.quiet:
        for image in found:
            print(short(image))
        return 0
    rows = []
    for image in found:
        for tag in [t for t in image.tags if keep(t)] or [None]:
            repo, t = reference.repository_and_tag(tag) if tag else ("<none>", "<none>")
            rows.append([repo, t, short(image), _ago(image.created), human_size(image.size)])
    _columns(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], rows)
    return 0


def image(argv: list[str]) -> int:
    """Manage images"""
    from runtime.cli.dispatch import subcommands

    return subcommands("vmvc image", argv, {
        "ls": ("runtime.cli.images:images", "List images"),
        "inspect": ("runtime.cli.images:inspect", "Display detailed information on images"),
        "import": ("runtime.cli.images:import_", "Import a rootfs tarball as an image"),
        "load": ("runtime.cli.images:load", "Load images from a docker-archive or OCI tarball"),
        "save": ("runtime.cli.images:save", "Save images to a tarball (docker and OCI readable)"),
        "rm": ("runtime.cli.images:rmi", "Remove one or more images"),
        "tag": ("runtime.cli.images:tag", "Create a tag TARGET that refers to SOURCE"),
        "prune": ("runtime.cli.images:prune", "Remove unused images"),
        "init": ("runtime.cli.images:init", "Create the built-in images (hello-world, busybox)"),
        "verify": ("runtime.cli.images:verify", "Check images' layers against what was imported"),
    })


def inspect(argv: list[str]) -> int:
    """Display detailed information on images"""
    p = parser("vmvc image inspect", "Display detailed information on one or more images.")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    args = parse(p, argv)
    from runtime.images import shapes

    store = _store()
    out, missing = [], []
    for ref in args.images:
        found = store.find(ref)
        if found is None:
            missing.append(ref)
        else:
            out.append(shapes.inspect(store, found))
    print_json(out)
    for ref in missing:
        print(f"Error: No such image: {ref}", file=sys.stderr)
    return 1 if missing else 0


# -- moving images in and out ----------------------------------------------------------------------
def import_(argv: list[str]) -> int:
    """Import a rootfs tarball as an image"""
    p = parser("vmvc import", "Import the contents of a rootfs tarball (file or '-') as a one-layer image.")
    p.add_argument("file", metavar="file|-")
    p.add_argument("reference", nargs="?", metavar="REPOSITORY[:TAG]")
    p.add_argument("-m", "--message", default="vmvc import", help="commit message for the history")
    p.add_argument("-c", "--change", action="append", default=[],
                   help="Dockerfile instruction for the config: CMD, ENTRYPOINT, ENV, LABEL, USER, WORKDIR")
    args = parse(p, argv)
    from runtime.images import changes
    from runtime.images.store import DEFAULT_PATH

    config = changes.apply({"Env": [DEFAULT_PATH]}, args.change)
    if args.file == "-":
        img = _store().import_tar(sys.stdin.buffer, args.reference, comment=args.message, config=config)
    elif sys.stderr.isatty():
        img = _import_with_progress(args.file, args.reference, args.message, config)
    else:
        img = _store().import_tar(args.file, args.reference, comment=args.message, config=config)
    print(img.id)
    return 0


class _Counting:
    """A binary stream that reports how far it has been read (for a progress bar)."""

    def __init__(self, f, advance) -> None:
        self.f, self.advance = f, advance

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.advance(len(data))
        return data

    def peek(self, n: int = 0) -> bytes:
        return self.f.peek(n)


def _import_with_progress(path: str, ref: str | None, message: str, config: dict):
    import os

    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    try:
        f = open(path, "rb")
    except OSError as e:
        raise VmvcError(f"open {path}: {e.strerror}") from None
    columns = (TextColumn("importing"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with f, Progress(*columns, transient=True) as bar:
        task = bar.add_task("import", total=os.fstat(f.fileno()).st_size)
        return _store().import_tar(_Counting(f, lambda n: bar.advance(task, n)), ref, comment=message,
                                   config=config)


def load(argv: list[str]) -> int:
    """Load images from a docker-archive or OCI tarball"""
    p = parser("vmvc load", "Load images from a docker-archive or OCI layout (tarball, dir, or stdin).")
    p.add_argument("-i", "--input", help="read from this file or directory instead of stdin")
    p.add_argument("-q", "--quiet", action="store_true")
    args = parse(p, argv)
    from runtime.images import archives

    if args.input is None and sys.stdin.isatty():
        raise VmvcError("requested load from stdin, but stdin is empty")
    loaded = archives.load(_store(), args.input if args.input else sys.stdin.buffer)
    if not args.quiet:
        for img in loaded:
            for tag in img.repo_tags or [None]:
                print(f"Loaded image: {tag}" if tag else f"Loaded image ID: {img.id}")
    return 0


def save(argv: list[str]) -> int:
    """Save images to a tarball (docker and OCI readable)"""
    p = parser("vmvc save", "Save images to a tar archive that docker load and OCI tools accept.")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("-o", "--output", help="write to a file instead of stdout")
    args = parse(p, argv)
    from runtime.images import archives

    if args.output is None and sys.stdout.isatty():
        raise VmvcError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    if args.output is None:
        sys.stdout.flush()
    archives.save(_store(), args.images, args.output if args.output else sys.stdout.buffer)
    return 0


def tag(argv: list[str]) -> int:
    """Create a tag TARGET that refers to SOURCE"""
    p = parser("vmvc image tag", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.")
    p.add_argument("source", metavar="SOURCE_IMAGE[:TAG]")
    p.add_argument("target", metavar="TARGET_IMAGE[:TAG]")
    args = parse(p, argv)
    _store().tag(args.source, args.target)
    return 0


# -- removing --------------------------------------------------------------------------------------
def rmi(argv: list[str]) -> int:
    """Remove one or more images"""
    p = parser("vmvc rmi", "Remove one or more images (refused while a container uses one, unless -f).")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("-f", "--force", action="store_true", help="untag even if containers use it")
    args = parse(p, argv)
    store, failed = _store(), 0
    for ref in args.images:
        try:
            for row in store.remove(ref, force=args.force):
                for key, value in row.items():
                    print(f"{key}: {value}")
        except VmvcError as e:
            print(f"Error response from daemon: {e}", file=sys.stderr)
            failed = 1
    return failed


def prune(argv: list[str]) -> int:
    """Remove unused images"""
    p = parser("vmvc image prune", "Remove dangling images (with -a: every image no container uses).")
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("-f", "--force", action="store_true", help="do not ask for confirmation")
    args = parse(p, argv)
    if not args.force and sys.stdin.isatty():
        what = "all images without at least one container" if args.all else "all dangling images"
        answer = input(f"WARNING! This will remove {what}.\nAre you sure you want to continue? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            return 0
    result = _store().prune(all_images=args.all)
    if result["ImagesDeleted"]:
        print("Deleted Images:")
        for row in result["ImagesDeleted"]:
            for key, value in row.items():
                print(f"{key.lower()}: {value}")
        print()
    print(f"Total reclaimed space: {human_size(result['SpaceReclaimed'])}")
    return 0


def init(argv: list[str]) -> int:
    """Create the built-in images (hello-world, busybox)"""
    p = parser("vmvc image init", "Create the built-in images that need no network: hello-world, busybox.")
    parse(p, argv)
    from runtime.images import builtin

    for img in builtin.init(_store()):
        print(f"{', '.join(img.repo_tags):<22} {img.short_id}   {human_size(img.size)}")
    return 0


def verify(argv: list[str]) -> int:
    """Check images' layers against what was imported"""
    p = parser("vmvc image verify", "Check that each layer's files still hold what was imported (all "
               "images by default). A damaged layer is recorded, and its images refuse to run.")
    p.add_argument("images", nargs="*", metavar="IMAGE")
    p.add_argument("--json", action="store_true")
    args = parse(p, argv)
    if sys.stderr.isatty():
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task("verifying layers", total=None)
            results = _store().verify(args.images or None,
                                      progress=lambda n, total: bar.update(task, completed=n, total=total))
    else:
        results = _store().verify(args.images or None)
    if args.json:
        print_json([{"Id": im.id, "RepoTags": im.repo_tags, "Layers": layers} for im, layers in results])
    damaged = 0
    for image, layers in results:
        name = ", ".join(image.repo_tags) or image.short_id
        bad = {d: why for d, why in layers.items() if why}
        damaged += bool(bad)
        if args.json:
            continue
        if not bad:
            print(f"{name}: ok ({len(layers)} layer{'s' if len(layers) != 1 else ''})")
        for d, why in bad.items():
            print(f"{name}: layer {d[:19]} DAMAGED: {why}")
    return 1 if damaged else 0


# -- disk usage ------------------------------------------------------------------------------------
def system_df(argv: list[str]) -> int:
    """Show disk usage and shared-layer savings"""
    p = parser("vmvc system df", "Show image disk usage and what layer sharing saves.")
    p.add_argument("-v", "--verbose", action="store_true", help="one row per image")
    p.add_argument("--json", action="store_true")
    args = parse(p, argv)
    usage = _store().disk_usage()
    if args.json:
        print_json(usage)
        return 0
    n, size = len(usage["Images"]), usage["LayersSize"]
    pct = f" ({100 * usage['Reclaimable'] // size}%)" if size else ""
    _columns(["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
             [["Images", str(n), str(usage["Active"]), human_size(size),
               human_size(usage["Reclaimable"]) + pct]])
    print(f"\nShared layers: {usage['Layers']} layers on disk hold {human_size(size)}; without sharing the "
          f"{n} images would need {human_size(usage['SizeIfNotShared'])} (saves "
          f"{human_size(usage['SharedSavings'])}). Layer tarballs kept for save: "
          f"{human_size(usage['BlobsSize'])}.")
    if args.verbose:
        print("\nImages space usage:\n")
        rows = []
        for r in usage["Images"]:
            for t in r["RepoTags"] or ["<none>:<none>"]:
                repo, _, tg = t.rpartition(":")
                rows.append([repo, tg, r["Id"][7:19], _ago(r["Created"]), human_size(r["Size"]),
                             human_size(r["SharedSize"]), human_size(r["UniqueSize"]), str(r["Containers"])])
        _columns(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE",
                  "CONTAINERS"], rows)
    return 0
