"""Simulate VM boots and container starts (SimPy)"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.errors import SimError

USAGE_EXIT = 2
PROG = "vmvc sim"
SCENARIOS = ("start", "storm", "density", "scaleout", "cluster")
EXAMPLES = """examples:
  vmvc sim start --profile kvm-typical              one boot, stage by stage
  vmvc sim storm --profile kvm-typical,crun -n 16 --plot --out /tmp/storm
  vmvc sim density --profile docker,microvm --memory-mib 8192
  vmvc sim scaleout --profile full-os-vm,crun --json
  vmvc sim cluster --profile kvm-typical --hosts 4 -n 64 --policy binpack
  vmvc sim sweep storm --profile tcg-this-kind,crun --n 1,2,4,8,16 --seeds 5
  vmvc sim profiles
  vmvc sim calibrate records.json --prior tcg-this-kind --save
  vmvc sim validate records.json --profile tcg-this-kind"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2
        print(f"{self.prog}: {message}\nSee '{self.prog} --help'.", file=sys.stderr)
        raise SystemExit(USAGE_EXIT)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1: {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0: {text!r}")
    return value


def _positive(text: str) -> float:
    value = _seconds(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
    return value


def _common(p: argparse.ArgumentParser, many_profiles: bool = True) -> None:
    p.add_argument(
        "--profile",
        default="kvm-typical",
        help="profile name or JSON file" + (" (comma-separated to compare)" if many_profiles else ""),
    )
    p.add_argument("--kind", choices=("vm", "container"), help="instance kind, for profiles that have both")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, help="directory for result JSON and plots")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.add_argument(
        "--plot", action="store_true", help="save PNG plots (into --out, else the current directory)"
    )
    h = p.add_argument_group("host (every profile of one comparison runs on the same host)")
    h.add_argument(
        "--host",
        metavar="SPEC",
        default="this",
        help="'this' (default: this machine's cores and memory), 'profile' (each profile's own reference "
        "host), or cores=N,memory=SIZE,disk=MIB_S",
    )
    h.add_argument("--cores", type=_count)
    h.add_argument("--memory-mib", type=_positive)
    h.add_argument("--disk-mib-s", type=_positive)
    h.add_argument(
        "--cpu-model", choices=("ps", "fifo"), help="processor sharing (default) or whole FIFO cores"
    )
    h.add_argument("--admission", choices=("wait", "refuse"))
    p.add_argument("--no-jitter", action="store_true", help="every stage takes its median cost")
    p.add_argument("--cache", choices=("warm", "cold"), default="warm", help="image/page cache at start")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG, description=__doc__, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    s = sub.add_parser("start", help="one instance on an idle host, stage by stage")
    _common(s)
    s = sub.add_parser("storm", help="N instances started at once")
    _common(s)
    s.add_argument("-n", type=_count, default=8)
    s.add_argument("--interval", type=_seconds, default=0.0, help="seconds between arrivals")
    s.add_argument("--lifetime", type=_seconds, help="seconds an instance runs once ready, then leaves")
    s = sub.add_parser("density", help="how many instances fit in memory")
    _common(s)
    s.add_argument("-n", type=_count, help="instances to try (default: the analytic fit + 10%%)")
    s.add_argument("--limit", type=_count, default=5000)
    s = sub.add_parser("scaleout", help="an autoscaler under a request spike")
    _common(s)
    for flag, default, kind in (
        ("--duration", 120.0, _positive),
        ("--base-rate", 40.0, _seconds),
        ("--spike-rate", 400.0, _seconds),
        ("--spike-at", 20.0, _seconds),
        ("--spike-for", 60.0, _seconds),
        ("--capacity", 50.0, _positive),
        ("--timeout", 5.0, _seconds),
        ("--period", 1.0, _positive),
    ):
        s.add_argument(flag, type=kind, default=default)
    s.add_argument("--initial", type=int, default=2)
    s.add_argument("--max-instances", type=_count, default=64)
    s = sub.add_parser("cluster", help="placement across a few hosts")
    _common(s)
    s.add_argument("--hosts", type=_count, default=4)
    s.add_argument("-n", type=_count, default=32)
    s.add_argument(
        "--policy", default="spread", choices=("spread", "binpack", "first-fit", "random", "locality")
    )
    s.add_argument("--interval", type=_seconds, default=0.0)
    s = sub.add_parser("sweep", help="many scenarios in parallel (local processes or a Dask cluster)")
    s.add_argument("scenario", choices=SCENARIOS)
    s.add_argument("--profile", default="kvm-typical", help="comma-separated profiles")
    s.add_argument("--kind", choices=("vm", "container"))
    s.add_argument("--n", default=None, help="comma-separated instance counts")
    s.add_argument("--seeds", type=_count, default=1, help="seeds 0..K-1 per point")
    s.add_argument("--host", metavar="SPEC", default="this",
                   help="every run's one host: 'this' machine (default), 'profile' or cores=N,memory=SIZE")
    s.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="any scenario parameter, comma-separated values (repeatable)",
    )
    s.add_argument("--workers", type=_count, help="local worker processes (default: all cores)")
    s.add_argument("--address", help="Dask scheduler address (tcp://host:8786) instead of local processes")
    s.add_argument("--out", type=Path)
    s.add_argument("--json", action="store_true")
    s.add_argument(
        "--plot", action="store_true", help="save the curve (all ready vs the first varying number)"
    )
    s = sub.add_parser("profiles", help="list the profiles and where they come from")
    s.add_argument("--json", action="store_true")
    s = sub.add_parser("calibrate", help="fit a profile to measurement records (JSON)")
    s.add_argument("records", type=Path)
    s.add_argument("--name", default="this-host")
    s.add_argument("--prior", help="profile whose stage CPU fractions seed the fit")
    s.add_argument("--save", action="store_true", help="save into the user profile directory (or --out)")
    s.add_argument("--out", type=Path)
    s.add_argument("--json", action="store_true")
    s = sub.add_parser("validate", help="predicted vs measured storms (MAPE)")
    s.add_argument("records", type=Path)
    s.add_argument("--profile", default="this-host")
    s.add_argument("--seeds", type=_count, default=5)
    s.add_argument("--json", action="store_true")
    return p


def main(argv: list[str]) -> int:
    """Simulate VM boots and container starts (SimPy)"""
    parser = build_parser()
    if not argv:
        parser.print_help()
        return USAGE_EXIT
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    try:
        from sim import cli_commands

        return cli_commands.dispatch(args)
    except SimError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return USAGE_EXIT
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except OSError as e:  # --out not writable, disk full: say which file, no traceback
        print(f"{PROG}: {e.filename or ''}: {e.strerror or e}".replace(": : ", ": "), file=sys.stderr)
        return 1
