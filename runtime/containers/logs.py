"""Container output in docker's json-file format, kept after the container exits.

One JSON object per line: ``{"log": "hello\\n", "stream": "stdout", "time": "2026-…Z"}``. Output
is split at newlines like docker does; a partial line is written when it reaches 16 KiB or when the
stream ends. :func:`read` gives entries back (``--tail``), :func:`follow` keeps reading until the
container stops (``-f``).
"""

from __future__ import annotations

import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterator

from runtime.containers.state import now

MAX_PARTIAL = 16 * 1024


class LogWriter:
    """Appends one container's output; opened lazily so a silent container costs no fd."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._file = None
        self._partial = {"stdout": b"", "stderr": b""}

    def _emit(self, stream: str, data: bytes) -> None:
        if self._file is None:
            self._file = open(self.path, "ab", buffering=0)
        line = json.dumps({"log": data.decode("utf-8", "replace"), "stream": stream, "time": now()})
        self._file.write(line.encode() + b"\n")

    def write(self, stream: str, data: bytes) -> None:
        buf = self._partial[stream] + data
        while True:
            cut = buf.find(b"\n")
            if cut < 0:
                break
            self._emit(stream, buf[: cut + 1])
            buf = buf[cut + 1 :]
        while len(buf) >= MAX_PARTIAL:
            self._emit(stream, buf[:MAX_PARTIAL])
            buf = buf[MAX_PARTIAL:]
        self._partial[stream] = buf

    def close(self) -> None:
        for stream, rest in self._partial.items():
            if rest:
                self._emit(stream, rest)
        self._partial = {"stdout": b"", "stderr": b""}
        if self._file is not None:
            self._file.close()
            self._file = None


def _entries(lines) -> Iterator[dict]:
    for line in lines:
        try:
            yield json.loads(line)
        except ValueError:
            continue  # a line being written right now


def read(path: str, tail: int | None = None) -> list[dict]:
    """Every entry, or the last ``tail`` of them."""
    try:
        with open(path, "rb") as f:
            lines = deque(f, maxlen=tail) if tail is not None else f.readlines()
    except FileNotFoundError:
        return []
    if tail == 0:
        return []
    return list(_entries(lines))


def follow(
    path: str, running: Callable[[], bool], tail: int | None = None, poll: float = 0.05
) -> Iterator[dict]:
    """Entries so far (or the last ``tail``), then new ones until ``running()`` turns false."""
    yield from read(path, tail)
    try:
        offset = os.path.getsize(path)
    except FileNotFoundError:
        offset = 0
    pending = b""
    while True:
        alive = running()
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                chunk = f.read()
        except FileNotFoundError:
            chunk = b""
        offset += len(chunk)
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from _entries(complete)
        if not alive:
            return
        time.sleep(poll)


def format_entry(entry: dict, timestamps: bool = False) -> bytes:
    text = entry.get("log", "")
    if timestamps:
        text = f"{entry.get('time', '')} {text}"
    return text.encode("utf-8", "replace")
