"""``vmvc build``: parse, call :mod:`runtime.build`, print docker's classic builder output."""

from __future__ import annotations

import os

from runtime.cli.args import parse, parser
from runtime.errors import VmvcError


def build(argv: list[str]) -> int:
    """Build an image from a Dockerfile"""
    args = parse(build_parser(), argv)
    if not os.path.isdir(args.context):
        raise VmvcError(f'unable to prepare context: path "{args.context}" not found', exit_code=1)
    path = args.file or os.path.join(args.context, "Dockerfile")
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise VmvcError(f"unable to read the Dockerfile: {path}: {e.strerror}", exit_code=1) from None
    build_args = resolve_build_args(args.build_arg)
    from runtime.build import build as run_build
    from runtime.images import open_store

    emit = (lambda text: None) if args.quiet else (lambda text: print(text, end="", flush=True))
    image_id = run_build(open_store(), args.context, text, args.tag, build_args=build_args,
                         no_cache=args.no_cache, emit=emit)
    if args.quiet:
        print(image_id)
    return 0


def build_parser():
    """``vmvc build``'s flags (also parsed by the remote path, runtime.cli.remote)."""
    p = parser("vmvc build", "Build an image from a Dockerfile: RUN steps run in real vmvc containers and "
               "their changes become layers; steps are cached as docker caches them.")
    p.add_argument("context", help="the build context directory")
    p.add_argument("-t", "--tag", help="NAME[:TAG] for the result (only a successful build is tagged)")
    p.add_argument("-f", "--file", help="the Dockerfile (default: CONTEXT/Dockerfile)")
    p.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--no-cache", action="store_true", help="do not use cached steps")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the image id")
    return p


def resolve_build_args(items: list[str]) -> dict[str, str]:
    """``--build-arg K=V``, or ``K`` alone for the value in our environment (skipped when unset)."""
    build_args = {}
    for item in items:
        k, eq, v = item.partition("=")
        if not eq:
            v = os.environ.get(k)
            if v is None:
                continue
        build_args[k] = v
    return build_args
