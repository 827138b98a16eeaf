"""argparse set up the way every vmvc command wants it.

Bad flags end with one line on stderr and exit 125 (docker's engine-error code for a bad flag),
or 2 for the top-level and non-docker commands that ask for it.
"""

from __future__ import annotations

import argparse
import sys


class Parser(argparse.ArgumentParser):
    def __init__(self, *args, usage_exit: int = 125, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        self.usage_exit = usage_exit

    def error(self, message: str):  # one line, docker-style, no usage dump
        print(f"{self.prog}: {message}\nSee '{self.prog} --help'.", file=sys.stderr)
        raise SystemExit(self.usage_exit)


def parser(prog: str, description: str, usage_exit: int = 125) -> Parser:
    return Parser(prog=prog, description=description, usage_exit=usage_exit)


def parse(p: Parser, argv: list[str]) -> argparse.Namespace:
    """Parse, turning argparse's SystemExit into a return the dispatcher understands."""
    return p.parse_args(argv)
