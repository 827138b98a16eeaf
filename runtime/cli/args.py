"""argparse set up the way every vmvc command wants it.

Bad flags end the way docker's CLI ends them: ``unknown flag: --bogus`` and ``See 'vmvc ps --help'.``,
exit 125 (docker's code for a bad flag), or 2 for the top-level and non-docker commands that ask for
it. A missing argument is ``'vmvc stop' requires at least 1 argument``, exit 1, as in docker.
"""

from __future__ import annotations

import argparse
import sys


def docker_wording(prog: str, message: str) -> tuple[str, bool]:
    """argparse's message in docker's words; True when it is a missing argument (docker exits 1)."""
    if message.startswith("unrecognized arguments: "):
        word = message.split(": ", 1)[1].split()[0]
        flag = word.partition("=")[0]
        if flag.startswith("--"):
            return f"unknown flag: {flag}", False
        if flag.startswith("-") and len(flag) > 1:
            return f"unknown shorthand flag: '{flag[1]}' in {word}", False
        return f"'{prog}' accepts no argument '{word}'", False
    if message.startswith("the following arguments are required"):
        return f"'{prog}' requires at least 1 argument", True
    return message, False


class Parser(argparse.ArgumentParser):
    def __init__(self, *args, usage_exit: int = 125, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        self.usage_exit = usage_exit

    def parse_known_args(self, args=None, namespace=None):
        """An unknown ``--flag`` is reported as such even when an argument is also missing (argparse
        would complain about the missing argument first; docker names the flag)."""
        for word in args or [] if self._subparsers is None else []:  # a sub-command checks its own
            if word == "--":
                break
            name = word.partition("=")[0]
            if name.startswith("--") and len(name) > 2 and name not in self._option_string_actions:
                self.error(f"unrecognized arguments: {word}")
        return super().parse_known_args(args, namespace)

    def error(self, message: str):  # one line, docker-style, no usage dump
        text, missing = docker_wording(self.prog, message)
        print(f"{text}\nSee '{self.prog} --help'.", file=sys.stderr)
        raise SystemExit(1 if missing and self.usage_exit == 125 else self.usage_exit)


def parser(prog: str, description: str, usage_exit: int = 125) -> Parser:
    return Parser(prog=prog, description=description, usage_exit=usage_exit)


def parse(p: Parser, argv: list[str]) -> argparse.Namespace:
    """Parse, turning argparse's SystemExit into a return the dispatcher understands."""
    return p.parse_args(argv)
