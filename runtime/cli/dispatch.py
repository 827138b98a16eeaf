"""Sub-command groups (``vmvc image ls``, ``vmvc vm boot``): the same lazy table idea as main."""

from __future__ import annotations

import difflib
import importlib
import sys

from runtime.errors import UsageError


def subcommands(prog: str, argv: list[str], table: dict[str, tuple[str, str]]) -> int:
    """Run ``table[argv[0]]`` (a ``module:function`` ref) with the remaining words."""
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(f"Usage:  {prog} COMMAND\n\nCommands:")
        for name, (_, text) in table.items():
            print(f"  {name:<10} {text}")
        print(f"\nRun '{prog} COMMAND --help' for more information on a command.")
        return 0 if argv else 2
    name = argv[0]
    if name not in table:
        close = difflib.get_close_matches(name, list(table), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise UsageError(f"'{name}' is not a '{prog}' command.{hint}", exit_code=2)
    module, _, func = table[name][0].partition(":")
    return getattr(importlib.import_module(module), func)(argv[1:])


def die(message: str, code: int = 125) -> int:
    print(f"vmvc: {message}", file=sys.stderr)
    return code
