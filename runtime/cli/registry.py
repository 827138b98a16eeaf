"""``vmvc pull``, ``push``, ``login``, ``logout`` and ``registry serve``: parse, call, print (docker's
words). The logic is in :mod:`runtime.registry`."""

from __future__ import annotations

import os
import sys

from runtime.cli.args import parse, parser
from runtime.errors import VmvcError


def _store():
    from runtime.images import open_store

    return open_store()


def _config() -> dict:
    from runtime.registry import config

    return config.load()


def pull_image(ref: str, quiet: bool = False, store=None, for_run: bool = False):
    """Pull with docker's lines (used by ``pull`` and by ``run``/``create`` for a missing image; like
    docker's run, that one says nothing of endpoints that failed unless another then served it)."""
    from runtime.images import reference
    from runtime.registry import pull
    from runtime.registry.progress import LayerProgress

    store = store or _store()
    tag_given = "@" in ref or ":" in ref.rsplit("/", 1)[-1]
    if not tag_given and not quiet and not for_run:
        print("Using default tag: latest", file=sys.stderr)
    progress = None if quiet else LayerProgress(defer_failures=for_run)
    ok = False
    try:
        result = pull(store, ref, config=_config(), progress=progress)
        ok = True
    finally:
        if progress is not None:
            progress.close(succeeded=ok)
    shown = reference.familiar(result.reference)
    if not quiet:
        print(f"Digest: {result.digest}", file=sys.stderr)
        word = "Downloaded newer image" if result.new else "Image is up to date"
        print(f"Status: {word} for {shown}" + (f" (from {result.endpoint})" if result.new else ""),
              file=sys.stderr)
    return result


def pull_cmd(argv: list[str]) -> int:
    """Download an image from a registry"""
    args = parse(pull_parser(), argv)
    result = pull_image(args.image, quiet=args.quiet)
    print(result.reference if "@" not in args.image else args.image)
    return 0


def pull_parser():
    """``vmvc pull``'s flags (also parsed by the remote path, runtime.cli.remote)."""
    p = parser("vmvc pull", "Download an image from a registry (registry-mirrors from /etc/vmvc/daemon.json "
               "or $VMVC_DAEMON_CONFIG apply to Docker Hub images, as in dockerd).")
    p.add_argument("image", help="NAME[:TAG] or NAME@sha256:DIGEST")
    p.add_argument("-q", "--quiet", action="store_true", help="only print the image's full name")
    return p


def push_parser():
    """``vmvc push``'s flags (also parsed by the remote path)."""
    p = parser("vmvc push", "Upload an image to a registry (never through a mirror).")
    p.add_argument("image", help="REGISTRY/NAME[:TAG]")
    p.add_argument("-q", "--quiet", action="store_true")
    return p


def push_cmd(argv: list[str]) -> int:
    """Upload an image to a registry"""
    from runtime.registry import push
    from runtime.registry.progress import LayerProgress

    args = parse(push_parser(), argv)
    progress = None if args.quiet else LayerProgress(sys.stdout)
    try:
        result = push(_store(), args.image, config=_config(), progress=progress)
    finally:
        if progress is not None:
            progress.close()
    if args.quiet:
        print(result.reference)
    return 0


def login(argv: list[str]) -> int:
    """Log in to a registry"""
    from runtime.registry import auth

    p = parser("vmvc login", "Log in to a registry; credentials go to $DOCKER_CONFIG/config.json (0600), "
               "where the docker CLI keeps them too.")
    p.add_argument("server", help="REGISTRY host[:port]")
    p.add_argument("-u", "--username", required=True)
    p.add_argument("-p", "--password", help="prefer --password-stdin")
    p.add_argument("--password-stdin", action="store_true")
    args = parse(p, argv)
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else args.password
    if not password:
        raise VmvcError("Must provide --password or --password-stdin")
    host = args.server.split("://", 1)[-1].rstrip("/")
    saved = auth.save(host, args.username, password)
    from runtime.registry import endpoints

    last = None
    for ep in endpoints.for_push(host, _config()):
        ep.creds = (args.username, password)
        try:
            ep.request("GET", "/v2/", scope="login")
            print("Login Succeeded")
            return 0
        except Exception as e:  # noqa: BLE001 - reported as one line below
            last = e
        finally:
            ep.close()
    auth.forget(host)  # nothing is kept from a failed login
    if getattr(last, "status", 0) == 401:
        raise VmvcError(f"login to {host} failed: unauthorized: incorrect username or password", exit_code=1)
    raise VmvcError(f"login to {host} failed: {last} (nothing kept in {saved})", exit_code=1)


def logout(argv: list[str]) -> int:
    """Log out from a registry"""
    from runtime.registry import auth

    p = parser("vmvc logout", "Remove a registry's credentials from $DOCKER_CONFIG/config.json.")
    p.add_argument("server")
    args = parse(p, argv)
    host = args.server.split("://", 1)[-1].rstrip("/")
    if auth.forget(host):
        print(f"Removing login credentials for {host}")
    else:
        print(f"Not logged in to {host}")
    return 0


def registry(argv: list[str]) -> int:
    """A local registry for offline classrooms"""
    p = parser("vmvc registry", "A local registry (Debian's docker-registry on loopback), seeded with vmvc's "
               "own images as library/hello-world and library/busybox: a Docker Hub for a room without one.")
    sub = p.add_subparsers(dest="verb", required=True)
    s = sub.add_parser("serve", help="serve until Ctrl-C")
    s.add_argument("--port", type=int, default=5000)
    s.add_argument("--dir", help="keep its data here (default: a temp dir removed on exit)")
    s.add_argument("--upstream", help="be a pull-through cache (a mirror) of this registry URL")
    s.add_argument("--no-seed", action="store_true")
    args = parse(p, argv)
    from runtime.registry import LocalRegistry, seed

    if args.port <= 0 or args.port > 65535:
        raise VmvcError(f"invalid port {args.port}")
    reg = LocalRegistry(args.dir, args.port, upstream=args.upstream)
    try:
        reg.start()
        if not args.no_seed and not args.upstream:
            seed(_store(), reg.host)
        print(f"registry serving on {reg.url}" + (f" (a mirror of {args.upstream})" if args.upstream else ""))
        print("Use it as Docker Hub in /etc/vmvc/daemon.json (or $VMVC_DAEMON_CONFIG):")
        key = "registry-mirrors" if args.upstream else "hub"
        value = f'["{reg.url}"]' if args.upstream else f'"{reg.url}"'
        print(f'  {{"{key}": {value}}}')
        sys.stdout.flush()
        import signal

        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        signal.sigwait({signal.SIGINT, signal.SIGTERM})  # Ctrl-C or a stop: then clean up below
    except KeyboardInterrupt:
        pass
    finally:
        reg.stop()
    return 0


def config_exists() -> bool:
    """Cheap (one ``stat``, no imports): the run path asks this before anything registry-related."""
    return os.path.exists(os.environ.get("VMVC_DAEMON_CONFIG") or "/etc/vmvc/daemon.json")


def ensure_image(ref: str) -> None:
    """docker's run with a registry configured: use the local image, else say so and pull it first
    (vmvc's own images too: with a hub configured they come from it, as in the tutorial's flow)."""
    conf = _config()
    if not (conf.get("hub") or conf.get("registry-mirrors")):
        return
    store = _store()
    if store.find(ref) is None:
        pull_missing(ref, store)


def pull_missing(ref: str, store=None) -> None:
    from runtime.images import reference

    name = ref if ("@" in ref or ":" in ref.rsplit("/", 1)[-1]) else f"{ref}:latest"
    shown = reference.familiar(name) if "@" not in name else name
    print(f"Unable to find image '{shown}' locally", file=sys.stderr)
    try:
        pull_image(ref, store=store, for_run=True)
    except VmvcError as e:  # one line, as docker's run ends a failed pull
        raise VmvcError(f"No such image: {shown}: {e}") from None
