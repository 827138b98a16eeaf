"""The ``vmvc`` entry point: finds the command, imports only its module, and runs it.

Commands are a table of lazy ``module:function`` references, so ``vmvc run`` imports the engine and
nothing else (start-up time is part of what we measure). ``runtime`` owns its own commands; other
packages (``sim``, ``benchmarks``) add theirs through the ``vmvc.commands`` entry-point group, so
``runtime`` never imports them.

Each command function takes ``argv`` (the words after the command) and returns an exit code.
"""

from __future__ import annotations

import sys

from runtime.errors import VmvcError

# name -> (module:function, one-line help, section)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "run": ("runtime.cli.containers:run", "Create and run a new container from an image", "Containers"),
    "create": ("runtime.cli.containers:create", "Create a new container", "Containers"),
    "start": ("runtime.cli.containers:start", "Start one or more stopped containers", "Containers"),
    "stop": ("runtime.cli.containers:stop", "Stop one or more running containers", "Containers"),
    "kill": ("runtime.cli.containers:kill", "Kill one or more running containers", "Containers"),
    "rm": ("runtime.cli.containers:rm", "Remove one or more containers", "Containers"),
    "wait": ("runtime.cli.containers:wait", "Block until containers stop, print exit codes", "Containers"),
    "ps": ("runtime.cli.containers:ps", "List containers", "Containers"),
    "logs": ("runtime.cli.containers:logs", "Fetch the logs of a container", "Containers"),
    "exec": ("runtime.cli.containers:exec_", "Run a command in a running container", "Containers"),
    "inspect": ("runtime.cli.containers:inspect", "Low-level information on containers", "Containers"),
    "stats": ("runtime.cli.containers:stats", "Resource usage of containers", "Containers"),
    "container": ("runtime.cli.containers:container", "Manage containers", "Containers"),
    "images": ("runtime.cli.images:images", "List images", "Images"),
    "image": ("runtime.cli.images:image", "Manage images", "Images"),
    "import": ("runtime.cli.images:import_", "Import a rootfs tarball as an image", "Images"),
    "load": ("runtime.cli.images:load", "Load images from a docker-archive or OCI tarball", "Images"),
    "save": ("runtime.cli.images:save", "Save images to a tarball", "Images"),
    "rmi": ("runtime.cli.images:rmi", "Remove one or more images", "Images"),
    "tag": ("runtime.cli.images:tag", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", "Images"),
    "build": ("runtime.cli.build:build", "Build an image from a Dockerfile", "Images"),
    "pull": ("runtime.cli.registry:pull_cmd", "Download an image from a registry", "Images"),
    "push": ("runtime.cli.registry:push_cmd", "Upload an image to a registry", "Images"),
    "login": ("runtime.cli.registry:login", "Log in to a registry", "Images"),
    "logout": ("runtime.cli.registry:logout", "Log out from a registry", "Images"),
    "registry": ("runtime.cli.registry:registry", "A local registry for offline classrooms", "Images"),
    "vm": ("runtime.cli.vm:vm", "Boot and measure virtual machines (QEMU, pyvmm)", "Virtual machines"),
    "demo": ("runtime.cli.demo:demo", "A live VM-vs-containers race for lectures", "System"),
    "daemon": ("runtime.cli.daemon:daemon", "Serve the Docker Engine API on a socket", "System"),
    "doctor": ("runtime.cli.system:doctor", "What this host supports, with evidence", "System"),
    "system": ("runtime.cli.system:system", "Manage vmvc (df, prune, info)", "System"),
    "events": ("runtime.cli.events:no_daemon", "Get real time events from a 'vmvc daemon' (-H)", "System"),
    "version": ("runtime.cli.system:version", "Show the vmvc version", "System"),
}

ENTRY_POINT_GROUP = "vmvc.commands"


def _plugins() -> dict[str, tuple[str, str, str]]:
    """Commands other packages register (``sim``, ``bench``), without importing them yet."""
    from importlib.metadata import entry_points

    found = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found[ep.name] = (ep.value, "", "Simulation and benchmarks")
    return found


def _load(ref: str):
    import importlib

    module, _, func = ref.partition(":")
    return getattr(importlib.import_module(module), func)


def _help_line(ref: str, given: str) -> str:
    if given:
        return given
    try:
        doc = (_load(ref).__doc__ or "").strip()
    except Exception:  # a broken plugin must not break --help
        return "(unavailable)"
    return doc.splitlines()[0] if doc else ""


def usage(commands: dict) -> str:
    lines = ["Usage:  vmvc [--version] [--help] [-H unix://PATH] COMMAND [ARG...]", "",
             "VMs vs containers, measured: a real container engine, real VMs, a simulation, benchmarks.", ""]
    sections: dict[str, list[str]] = {}
    for name, (ref, text, section) in commands.items():
        try:
            _load_module_only(ref)
        except ImportError:
            continue  # not built yet: do not advertise it
        sections.setdefault(section, []).append(f"  {name:<10} {_help_line(ref, text)}")
    for section, rows in sections.items():
        lines += [f"{section}:", *rows, ""]
    lines.append("-H, --host unix://PATH (or $VMVC_HOST): send the command to a 'vmvc daemon' there.")
    lines.append("Run 'vmvc COMMAND --help' for more information on a command.")
    return "\n".join(lines)


def _available(ref: str) -> bool:
    try:
        _load_module_only(ref)
    except ImportError:
        return False
    return True


def _load_module_only(ref: str) -> None:
    import importlib.util

    module = ref.partition(":")[0]
    if importlib.util.find_spec(module) is None:
        raise ImportError(module)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    argv, host = _host(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        try:
            print(usage({**COMMANDS, **_plugins()}))
        except BrokenPipeError:  # `vmvc --help | head -1`: the reader left, as for any command
            return 141
        return 0
    if argv[0] in ("-v", "--version"):
        argv[0] = "version"
    name, rest = argv[0], argv[1:]
    entry = None
    if host:  # a daemon named: the same commands through its API (the direct path never imports it)
        from runtime.cli import remote

        try:
            entry = remote.entry(name, host, COMMANDS)
        except VmvcError as e:
            return _report(name, "", e)
    via = host if entry else None  # host tools (doctor, vm, …) ignore -H
    entry = entry or COMMANDS.get(name) or _plugins().get(name)
    if entry is None:
        return _unknown(name)
    try:
        func = _load(entry[0])
    except (ImportError, AttributeError):
        print(f"vmvc: '{name}' is not available in this build", file=sys.stderr)
        return 2
    try:
        return int(func(rest) or 0)
    except VmvcError as e:
        return _report(name, entry[2], e)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 141
    except OSError as e:  # a path we may not write (not root, a full disk): one line, no traceback
        where = f": {e.filename}" if e.filename else ""
        print(f"vmvc: {e.strerror or e}{where}", file=sys.stderr)
        return 1
    except Exception as e:  # a bug: still one line; VMVC_DEBUG=1 shows the traceback
        import os

        if os.environ.get("VMVC_DEBUG"):
            raise
        if via:  # most likely an answer of a shape the client did not expect: say whose
            print(f"vmvc: unexpected answer from the daemon at {via}: {type(e).__name__}: {str(e)[:200]} "
                  "(VMVC_DEBUG=1 shows where)", file=sys.stderr)
            return 1
        print(f"vmvc: internal error: {type(e).__name__}: {e} (VMVC_DEBUG=1 shows where)", file=sys.stderr)
        return 1


def _host(argv: list[str]) -> tuple[list[str], str | None]:
    """docker's global ``-H/--host unix://PATH`` before the command, else ``$VMVC_HOST``."""
    import os

    host = None
    while argv and (argv[0] in ("-H", "--host") or argv[0].startswith("--host=")):
        word = argv.pop(0)
        if "=" in word:
            host = word.partition("=")[2]
        elif argv:
            host = argv.pop(0)
        else:
            print(f"flag needs an argument: {word}\nSee 'vmvc --help'.", file=sys.stderr)
            raise SystemExit(125)
    return argv, host or os.environ.get("VMVC_HOST") or None


def _report(name: str, section: str, e) -> int:
    """One line for an engine error, worded and coded as docker words and codes it: a container verb
    says ``Error response from daemon: ...`` and exits 1; ``run``/``create`` keep the 125/126/127 of
    what failed; a bad command line stays a usage error. (Image verbs word their own errors.)"""
    from runtime.errors import UsageError

    if getattr(e, "as_is", False):  # no daemon answered: docker's own words and codes (125 for run)
        print(f"vmvc: {e}", file=sys.stderr)
        return 125 if name in ("run", "create") else 1
    if section != "Containers" or isinstance(e, UsageError):
        print(f"vmvc: {e}", file=sys.stderr)
        return e.exit_code
    if name in ("run", "create"):
        print(f"vmvc: Error response from daemon: {e}", file=sys.stderr)
        return e.exit_code
    print(f"Error response from daemon: {e}", file=sys.stderr)
    return 1


def _unknown(name: str) -> int:
    import difflib

    names = [n for n, entry in {**COMMANDS, **_plugins()}.items() if _available(entry[0])]
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    print(f"vmvc: '{name}' is not a vmvc command.{hint}\nSee 'vmvc --help'.", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
