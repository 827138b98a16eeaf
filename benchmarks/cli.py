"""Measure containers and VMs, write JSON, charts and a report"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str]) -> int:
    """Measure containers and VMs, write JSON, charts and a report"""
    p = argparse.ArgumentParser(prog="vmvc bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="the short run the README's quick start does")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    print("vmvc bench: the benchmark report is not built yet; showing what this host can measure "
          "(vmvc doctor) instead.", file=sys.stderr)
    from runtime.cli.system import doctor

    return doctor(["--json"] if args.json else [])
