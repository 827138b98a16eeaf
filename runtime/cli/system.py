"""``vmvc doctor``, ``vmvc version`` and ``vmvc system …``."""

from __future__ import annotations

from runtime.cli.args import parse, parser
from runtime.cli.output import print_json, table

VERDICT_STYLE = {"ready": "[green]ready[/]", "degraded": "[yellow]degraded[/]", "missing": "[red]missing[/]"}


def doctor(argv: list[str]) -> int:
    """What this host supports, with evidence"""
    p = parser("vmvc doctor", "Probe this host: what the real parts can use, each with its evidence.", 2)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--security", action="store_true",
                   help="instead: attack a throw-away engine and report what held: escape attempts "
                        "blocked, hostile inputs rejected, faults survived, load held (about 15 s; exit 1 "
                        "if anything got through)")
    args = parse(p, argv)
    if args.security:
        from runtime.doctor.security import main

        return main(args.json)
    from runtime.doctor import probe

    report = probe()
    if args.json:
        print_json(report.to_dict())
        return 0
    rows = [[c.group, c.name, VERDICT_STYLE[c.verdict], c.evidence, c.advice] for c in report.checks]
    table(f"vmvc doctor ({report.seconds:.2f}s)", ["group", "check", "verdict", "evidence", "what to do"],
          rows)
    return 0


def version(argv: list[str]) -> int:
    """Show the vmvc version"""
    import platform

    from runtime import __version__

    host = f"{platform.system()} {platform.release()}"
    print(f"vmvc {__version__} (Python {platform.python_version()}, {host})")
    return 0


def system(argv: list[str]) -> int:
    """Manage vmvc (df, prune, info)"""
    from runtime.cli.dispatch import subcommands

    return subcommands("vmvc system", argv, {
        "df": ("runtime.cli.images:system_df", "Show disk usage and shared-layer savings"),
        "info": ("runtime.cli.system:info", "Show what this host supports (short doctor)"),
        "prune": ("runtime.cli.system:prune", "Remove stopped containers and dangling images"),
        "stop": ("runtime.cli.system:stop", "Stop the engine's spawner (it exits by itself when idle)"),
    })


def stop(argv: list[str]) -> int:
    """Stop the engine's spawner (it also exits after 10 idle minutes)"""
    p = parser("vmvc system stop", "Stop this state root's spawner process, like stopping dockerd: "
               "nothing of vmvc keeps running afterwards.", 2)
    p.add_argument("-f", "--force", action="store_true", help="also kill running containers")
    args = parse(p, argv)
    import os

    from runtime.containers import Engine
    from runtime.errors import Conflict

    engine = Engine()
    # After a crash this recovers first: containers that outlived the spawner get a new one that
    # adopts them, so they are refused (or, with -f, killed) like any others, never left unsupervised.
    running = engine.list(all=False)
    if not os.path.exists(engine.table.socket_path) or not engine.spawner.alive():
        print("no spawner running")
        return 0
    if running and not args.force:
        raise Conflict(f"{len(running)} container(s) still running: stop them, or use -f to kill them")
    engine.shutdown()
    print("spawner stopped" + (f"; killed {len(running)} container(s)" if running else ""))
    return 0


def info(argv: list[str]) -> int:
    """Show what this host supports (short doctor)"""
    from runtime.doctor import host

    report = host()
    for c in report.checks:
        print(f"{c.name:16} {c.verdict:9} {c.evidence}")
    return 0


def prune(argv: list[str]) -> int:
    """Remove stopped containers and dangling images (docker's ``system prune``)"""
    p = parser("vmvc system prune", "Remove all stopped containers and dangling images (with -a: every "
               "image no container uses).")
    p.add_argument("-a", "--all", action="store_true", help="all unused images, not just dangling ones")
    p.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    args = parse(p, argv)
    import sys

    from runtime.cli import containers, images

    what = "images without at least one container associated to them" if args.all else "dangling images"
    if not args.force:
        print(f"WARNING! This will remove:\n  - all stopped containers\n  - all {what}\n\n"
              "Are you sure you want to continue? [y/N] ", end="", flush=True)
        answer = sys.stdin.readline()  # docker asks even when stdin is not a terminal; EOF means no
        if answer.strip().lower() not in ("y", "yes"):
            return 0
    removed = containers.remove_stopped(containers._engine())
    if removed:
        print("Deleted Containers:", *removed, "", sep="\n")
    return images.prune(["--force", *(["--all"] if args.all else [])])
