"""``vmvc -H unix://PATH CMD`` (or ``VMVC_HOST``): the CLI as a client of a ``vmvc daemon``.

The tutorial's picture (a CLI, a REST API, a daemon) with vmvc's own client. The container and image
verbs are the direct path's own functions, printing what they always print, over
:class:`runtime.api_client.engine.RemoteEngine` and :class:`runtime.api_client.images.RemoteStore`
instead of the local engine and store; only what needs the API's own order (``run``: create, attach,
wait, start), its streams (``pull``, ``push``, ``build``) or has no local twin (``restart``, ``top``,
``info``) is written here. Host tools (``daemon``, ``doctor``, ``vm``, ``registry``…) ignore the host;
the rest answer one line and exit 125. Loaded only when a host is named: the direct path never pays.
"""

from __future__ import annotations

import json
import os
import sys

from runtime.api_client import Client
from runtime.api_client.engine import RemoteEngine
from runtime.api_client.images import RemoteStore
from runtime.cli import containers, images
from runtime.cli.args import parse, parser
from runtime.errors import VmvcError

HERE = "runtime.cli.remote"
# command -> (module:function, section): what works through a daemon
REMOTE = {
    "run": (f"{HERE}:run", "Containers"),
    "create": (f"{HERE}:create", "Containers"),
    "container": (f"{HERE}:container", "Containers"),
    "restart": (f"{HERE}:restart", "Containers"),
    "top": (f"{HERE}:top", "Containers"),
    **{verb: (f"runtime.cli.containers:{fn}", "Containers") for verb, fn in (
        ("start", "start"), ("stop", "stop"), ("kill", "kill"), ("rm", "rm"), ("wait", "wait"), ("ps", "ps"),
        ("logs", "logs"), ("exec", "exec_"), ("inspect", "inspect"), ("stats", "stats"))},
    **{verb: (f"runtime.cli.images:{fn}", "Images") for verb, fn in (
        ("import", "import_"), ("rmi", "rmi"), ("tag", "tag"))},
    "images": (f"{HERE}:images_", "Images"),
    "image": (f"{HERE}:image", "Images"),
    "pull": (f"{HERE}:pull", "Images"),
    "push": (f"{HERE}:push", "Images"),
    "build": (f"{HERE}:build", "Images"),
    "version": (f"{HERE}:version", "System"),
    "info": (f"{HERE}:info", "System"),
    "system": (f"{HERE}:system", "System"),
    "events": ("runtime.cli.events:events", "System"),
}
# tools of the host itself (or only of the client, as docker's login): the host does not apply
LOCAL = {"daemon", "doctor", "vm", "demo", "registry", "login", "logout"}
LOCAL_ONLY = ("load", "save", "init", "verify", "stop")  # sub-commands with no API behind them here

_client: Client | None = None
_name = ""


def entry(name: str, host: str, known=()):
    """The table entry for ``name`` through the daemon at ``host``; None for a command that runs here
    whatever the host (host tools, plugins such as ``vmvc sim``, unknown words)."""
    global _client, _name
    if name in LOCAL or (name not in REMOTE and name not in known):
        return None
    _client, _name = Client(host), name
    containers.ENGINE = RemoteEngine(_client, pull=pull_missing)
    images.STORE = RemoteStore(_client)
    ref, section = REMOTE.get(name, (f"{HERE}:unsupported", "System"))
    return ref, "", section


def unsupported(argv: list[str], what: str | None = None) -> int:
    print(f"vmvc: '{what or _name}' does not work through a daemon ({_client.host}): run it without "
          "--host and VMVC_HOST", file=sys.stderr)
    return 125


# -- containers ------------------------------------------------------------------------------------
def run(argv: list[str], prog: str = "vmvc run") -> int:
    """Create and run a new container from an image"""
    a = containers.parse_run_args(prog, argv)
    containers._need_a_terminal(a.interactive and a.tty)
    spec = containers._spec(a)
    eng = containers.ENGINE
    session = eng.run_session(spec, attach=not a.detach)
    if a.detach:
        session.close()
        print(session.reply["id"])
        return 0
    watch = containers._Pid1Watch(eng, session.reply["id"])  # the daemon is on this host: its pids too
    code = containers._pump(session, stdin=spec.stdin, tty=spec.tty, watch=watch)
    if a.trace and session.trace:  # the daemon's wait answer carries the start's steps (VmvcTrace)
        from runtime.containers.trace import table

        print(table(session.trace), file=sys.stderr)
    return code


def create(argv: list[str]) -> int:
    """Create a new container"""
    a = containers.parse_run_args("vmvc create", argv)
    print(containers.ENGINE.create(containers._spec(a)))
    return 0


def container(argv: list[str]) -> int:
    """Manage containers"""
    if argv and argv[0] in ("run", "create"):
        return run(argv[1:]) if argv[0] == "run" else create(argv[1:])
    return containers.container(argv)


def restart(argv: list[str]) -> int:
    """Restart one or more containers"""
    p = parser("vmvc restart", "Restart one or more containers")
    p.add_argument("-t", "--time", "--timeout", type=int, default=10, help="seconds before SIGKILL")
    p.add_argument("containers", nargs="+")
    a = parse(p, argv)
    return containers._each(a.containers, lambda c: _client.status(
        "POST", f"/containers/{c}/restart", {"t": a.time}))


def top(argv: list[str]) -> int:
    """Display the running processes of a container"""
    p = parser("vmvc top", "Display the running processes of a container")
    p.add_argument("container")
    a = parse(p, argv)
    data = _client.call("GET", f"/containers/{a.container}/top")
    images._columns(data["Titles"], data["Processes"])
    return 0


# -- images ----------------------------------------------------------------------------------------
def image(argv: list[str]) -> int:
    """Manage images"""
    if argv and argv[0] in LOCAL_ONLY:
        return unsupported(argv, f"image {argv[0]}")
    if argv and argv[0] == "ls":
        return images_(argv[1:])
    return images.image(argv)


def images_(argv: list[str]) -> int:
    """List images"""
    # -a: the daemon hides a build's steps unless asked (GET /images/json?all=1), as dockerd does
    images.STORE.every = any(w == "--all" or (w[:1] == "-" and w[1:2] != "-" and "a" in w) for w in argv)
    return images.images(argv)


def _registry_auth(ref: str) -> dict:
    """The client's login for the image's registry, as docker's ``X-Registry-Auth``."""
    import base64

    from runtime.images import reference
    from runtime.registry import auth

    try:
        domain = reference.split(ref.partition("@")[0])[0]
    except VmvcError:
        return {}
    creds = auth.credentials(domain)
    if not creds:
        return {}
    data = json.dumps({"username": creds[0], "password": creds[1], "serveraddress": domain})
    return {"X-Registry-Auth": base64.urlsafe_b64encode(data.encode()).decode()}


def pull_image(ref: str, quiet: bool = False, for_run: bool = False) -> str:
    """docker's pull through the daemon (``POST /images/create``), its lines printed as the direct
    path prints them; the full reference."""
    from runtime.images import reference
    from runtime.registry.progress import LayerProgress

    name, at, digest = ref.partition("@")
    domain, path, tag = reference.split(name)
    if not at and ":" not in name.rsplit("/", 1)[-1] and not quiet and not for_run:
        print("Using default tag: latest", file=sys.stderr)
    progress = None if quiet else LayerProgress(defer_failures=for_run)
    final, ok = [], False
    query = {"fromImage": reference.familiar(f"{domain}/{path}"), "tag": digest or tag}
    try:
        for ev in _client.json_lines("POST", "/images/create", query, headers=_registry_auth(ref)):
            status = str(ev.get("status", ""))
            if status.startswith(("Digest:", "Status:")) and not ev.get("id"):
                where = ev.get("endpoint") if "newer image" in status else None
                final.append(status + (f" (from {where})" if where else ""))
            elif progress is not None:
                progress(ev)
        ok = True
    finally:
        if progress is not None:
            progress.close(succeeded=ok)
    if not quiet:
        for line in final:
            print(line, file=sys.stderr)
    return ref if at else f"{domain}/{path}:{tag}"


def pull_missing(ref: str) -> None:
    """docker's run/create for a missing image: say so, pull, then the caller creates again."""
    from runtime.images import reference

    name = ref if ("@" in ref or ":" in ref.rsplit("/", 1)[-1]) else f"{ref}:latest"
    shown = reference.familiar(name) if "@" not in name else name
    print(f"Unable to find image '{shown}' locally", file=sys.stderr)
    try:
        pull_image(ref, for_run=True)
    except VmvcError as e:
        raise VmvcError(f"No such image: {shown}: {e}") from None


def pull(argv: list[str]) -> int:
    """Download an image from a registry"""
    from runtime.cli.registry import pull_parser

    args = parse(pull_parser(), argv)
    print(pull_image(args.image, quiet=args.quiet))
    return 0


def push(argv: list[str]) -> int:
    """Upload an image to a registry"""
    from runtime.cli.registry import push_parser
    from runtime.images import reference
    from runtime.registry.progress import LayerProgress

    args = parse(push_parser(), argv)
    domain, path, tag = reference.split(args.image)
    progress = None if args.quiet else LayerProgress(sys.stdout)
    try:
        for ev in _client.json_lines("POST", f"/images/{reference.familiar(f'{domain}/{path}')}/push",
                                     {"tag": tag}, headers=_registry_auth(args.image)):
            if progress is not None and "aux" not in ev:
                progress(ev)
    finally:
        if progress is not None:
            progress.close()
    if args.quiet:
        print(f"{domain}/{path}:{tag}")
    return 0


def build(argv: list[str]) -> int:
    """Build an image from a Dockerfile"""
    from runtime.cli.build import build_parser, resolve_build_args

    args = parse(build_parser(), argv)
    if not os.path.isdir(args.context):
        raise VmvcError(f'unable to prepare context: path "{args.context}" not found', exit_code=1)
    path = args.file or os.path.join(args.context, "Dockerfile")
    if not os.path.isfile(path):
        raise VmvcError(f"unable to read the Dockerfile: {path}: No such file or directory", exit_code=1)
    query = {"t": args.tag, "nocache": args.no_cache or None,
             "buildargs": resolve_build_args(args.build_arg) or None}
    image_id = None
    with _context_tar(args.context, path) as (tar, dockerfile):
        query["dockerfile"] = dockerfile
        for ev in _client.json_lines("POST", "/build", query, tar):
            if "stream" in ev and not args.quiet:
                print(ev["stream"], end="", flush=True)
            image_id = (ev.get("aux") or {}).get("ID") or image_id
    if args.quiet:
        print(image_id)
    return 0


class _context_tar:
    """The build context as a tar in a temp file (docker's CLI sends the same); a Dockerfile outside
    the context goes in under a name of its own."""

    def __init__(self, context: str, dockerfile: str) -> None:
        self.context, self.dockerfile = context, dockerfile

    def __enter__(self):
        import tarfile
        import tempfile

        self.file = tempfile.TemporaryFile(prefix="vmvc-build-context-")
        rel = os.path.relpath(self.dockerfile, self.context)
        with tarfile.open(fileobj=self.file, mode="w") as tf:
            for name in sorted(os.listdir(self.context)):
                tf.add(os.path.join(self.context, name), arcname=name)
            if rel.startswith(".."):
                rel = ".vmvc-Dockerfile"
                tf.add(self.dockerfile, arcname=rel)
        self.file.seek(0)
        return self.file, rel

    def __exit__(self, *exc):
        self.file.close()


# -- the daemon itself -----------------------------------------------------------------------------
def version(argv: list[str]) -> int:
    """Show the vmvc version (this client's and the daemon's)"""
    from runtime.cli.system import version as client_version

    client_version(argv)
    v = _client.call("GET", "/version")
    name = (v.get("Platform") or {}).get("Name") or "daemon"
    print(f"Server: {name} {v.get('Version')} (API {v.get('ApiVersion')}, minimum {v.get('MinAPIVersion')}; "
          f"{v.get('Os')}/{v.get('Arch')}, kernel {v.get('KernelVersion')}) at {_client.host}")
    return 0


def info(argv: list[str]) -> int:
    """Display system-wide information (docker info's main lines)"""
    from runtime.cli.output import binary_size

    parse(parser("vmvc info", "Display system-wide information, from the daemon"), argv)
    i = _client.call("GET", "/info")
    mirrors = (i.get("RegistryConfig") or {}).get("Mirrors") or []
    rows = [("Containers", f"{i['Containers']} (running {i['ContainersRunning']}, stopped "
                           f"{i['ContainersStopped']})"),
            ("Images", i["Images"]), ("Server Version", i.get("ServerVersion")),
            ("Storage Driver", i.get("Driver")), ("Logging Driver", i.get("LoggingDriver")),
            ("Cgroup Driver", i.get("CgroupDriver")), ("Cgroup Version", i.get("CgroupVersion")),
            ("Kernel Version", i.get("KernelVersion")), ("Operating System", i.get("OperatingSystem")),
            ("Architecture", i.get("Architecture")), ("CPUs", i.get("NCPU")),
            ("Total Memory", binary_size(i.get("MemTotal") or 0)), ("Root Dir", i.get("DockerRootDir")),
            ("Registry Mirrors", ", ".join(mirrors) or "none"), ("Daemon", _client.host)]
    for key, value in rows:
        print(f" {key}: {value}")
    return 0


def system(argv: list[str]) -> int:
    """Manage vmvc (df, prune, info) through the daemon"""
    if argv and argv[0] in LOCAL_ONLY:
        return unsupported(argv, f"system {argv[0]}")
    if argv and argv[0] == "info":
        return info(argv[1:])
    from runtime.cli.system import system as local_system

    return local_system(argv)
