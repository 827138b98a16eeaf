"""Progress bars for ``vmvc bench``: the suite, the method running now, done/total and an ETA.

Only on a terminal (rich draws on stderr); piped or in CI the runner prints one line per suite instead.
"""

from __future__ import annotations

import contextlib
import sys


class Bars:
    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = Console(stderr=True)
        self.progress = Progress(TextColumn("[bold]{task.fields[suite]:>9}[/]"),
                                 TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                                 console=self.console, transient=False)
        self.current = ""

    def __enter__(self) -> Bars:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def say(self, text: str) -> None:
        self.progress.console.print(text, markup=False, highlight=False)

    @contextlib.contextmanager
    def suite(self, name: str):
        self.current = name
        try:
            yield
        finally:
            self.current = ""

    def task(self, description: str, total: int):
        task = self.progress.add_task(description, total=total, suite=self.current)

        def advance(n: int = 1, method: str | None = None) -> None:
            fields = {"description": f"{description}: {method}"} if method else {}
            self.progress.update(task, advance=n, **fields)

        return advance


def bars_if_terminal() -> Bars | None:
    return Bars() if sys.stderr.isatty() else None
