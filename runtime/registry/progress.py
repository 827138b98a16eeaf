"""Pull and push progress for people: rich bars per layer on a terminal, docker's plain lines elsewhere.

Events are the docker-style dicts :func:`runtime.registry.pull.pull` emits; the same dicts are what
the daemon streams to ``docker pull``, so the two front ends show one story.
"""

from __future__ import annotations

import sys

_FINAL = {"Pull complete", "Already exists", "Pushed", "Layer already exists"}


class LayerProgress:
    def __init__(self, stream=None, defer_failures: bool = False):
        self.stream = stream or sys.stderr
        self.defer = defer_failures  # endpoint failures shown only if the pull then succeeds elsewhere
        self.deferred: list[str] = []
        self.tty = self.stream.isatty()
        self.bars = None
        self.tasks: dict[str, int] = {}
        self.endpoint_of: dict[str, str] = {}
        if self.tty:
            from rich.console import Console
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

            self.bars = Progress(TextColumn("{task.fields[layer]}"), TextColumn("{task.description}"),
                                 BarColumn(), DownloadColumn(), TextColumn("{task.fields[source]}"),
                                 console=Console(file=self.stream), transient=False)
            self.bars.start()

    def __call__(self, ev: dict) -> None:
        status, layer = ev.get("status", ""), ev.get("id")
        if layer and ev.get("endpoint"):
            self.endpoint_of[layer] = ev["endpoint"]
        if not layer or status.startswith("Pulling from"):
            text = f"{layer}: {status}" if layer else status
            if self.defer and (ev.get("error_kind") or status.startswith("Pulling from")):
                self.deferred.append(text)  # said once a layer comes (or the pull succeeds)
                return
            self._line(text)
            return
        for line in self.deferred if self.defer else []:
            self._line(line)
        self.deferred = [] if self.defer else self.deferred
        if self.bars is None:
            if status in _FINAL or status in ("Pulling fs layer", "Pushing"):
                src = self.endpoint_of.get(layer)
                self._line(f"{layer}: {status}" + (f" (from {src})" if status == "Pull complete" and src
                                                    else ""))
            return
        detail = ev.get("progressDetail") or {}
        if layer not in self.tasks:
            self.tasks[layer] = self.bars.add_task(status, layer=layer + ":", source="",
                                                   total=detail.get("total") or None)
        task = self.tasks[layer]
        fields = {"description": status, "source": f"from {self.endpoint_of.get(layer, '')}"}
        if "current" in detail:
            fields["completed"] = detail["current"]
        if detail.get("total"):
            fields["total"] = detail["total"]
        if status in _FINAL:
            total = self.bars.tasks[task].total
            if total:
                fields["completed"] = total
        self.bars.update(task, **fields)

    def _line(self, text: str) -> None:
        if self.bars is not None:
            self.bars.console.print(text, highlight=False, markup=False)
        else:
            print(text, file=self.stream, flush=True)

    def close(self, succeeded: bool = True) -> None:
        if succeeded:
            for line in self.deferred:
                self._line(line)
        self.deferred = []
        if self.bars is not None:
            self.bars.stop()
            self.bars = None
