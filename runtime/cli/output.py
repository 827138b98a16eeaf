"""Printing shared by the CLI modules: JSON for machines, rich tables for people."""

from __future__ import annotations

import json
import sys


def print_json(data) -> None:
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def table(title: str | None, columns: list[str], rows: list[list[str]], styles: dict | None = None):
    """A rich table; imported lazily so fast commands do not pay for rich."""
    from rich.table import Table

    t = Table(title=title, show_lines=False, expand=False)
    for col in columns:
        t.add_column(col, overflow="fold", style=(styles or {}).get(col))
    for row in rows:
        t.add_row(*row)
    console().print(t)


def console(stderr: bool = False):
    """A rich Console that never wraps at 80 columns when not writing to a terminal (a pipe, a file,
    Jupyter's ``!vmvc``): tables stay whole there, as docker's do."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else 100_000)


def human_size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.3g}{unit}"
        n /= 1000
    return f"{n}B"


def binary_size(n: float) -> str:
    """docker stats' units: ``1.5MiB``, ``64MiB``, ``23.5GiB`` (powers of 1024, 4 significant digits)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.4g}{unit}"
        n /= 1024
    return f"{n}B"
