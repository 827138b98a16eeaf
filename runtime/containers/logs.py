"""Container output in docker's json-file format, kept after the container exits, rotated.

One JSON object per line: ``{"log": "hello\\n", "stream": "stdout", "time": "2026-…Z"}``. Output
is split at newlines like docker does; a partial line is written when it reaches 16 KiB or when the
stream ends.

Why it is built this way:

* **Cheap to write**, because the spawner's one loop writes every container's log: output arrives in
  chunks of up to 64 KiB, and a chunk of plain printable ASCII lines (almost all output) is encoded
  with two C-level byte operations -- one check that nothing needs escaping, one ``replace`` that turns
  newlines into the JSON between entries -- instead of one ``json.dumps`` per line (``yes`` writes
  32768 lines per chunk). One timestamp per chunk.
* **Bounded on disk**, with docker's ``--log-opt max-size=… max-file=…``: when the file would grow
  past ``max-size`` it is renamed ``….log.1`` (older ones shift up, the oldest beyond ``max-file``
  goes) and a new one is started. docker's json-file default is unlimited; vmvc's is
  ``max-size=10m``, ``max-file=3`` (at most 30 MB per container), because a single ``yes`` must not
  fill the host's disk. ``max-size=-1`` means unlimited, as in docker.
* **Read as a stream**: :func:`stream` yields entries file by file (oldest rotated file first), so
  ``vmvc logs`` needs constant memory however large the log; ``--tail N`` keeps only N raw lines.
  :func:`follow` keeps reading (``-f``) and moves on to the new file when the writer rotates.
"""

from __future__ import annotations

import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator

from runtime.containers.state import now
from runtime.containers.wire import loads
from runtime.errors import VmvcError

MAX_PARTIAL = 16 * 1024
DEFAULT_MAX_SIZE = 10 * 1024 * 1024
DEFAULT_MAX_FILE = 3
DEFAULT_OPTS = f"max-size=10m, max-file={DEFAULT_MAX_FILE}"
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
# bytes that appear in a JSON string as they are: printable ASCII but '"' and '\'; and the newline
_PLAIN = bytes(b for b in range(0x20, 0x7F) if b not in b'"\\') + b"\n"


def parse_opts(opts: Iterable[str] | None) -> tuple[int, int]:
    """docker's ``--log-opt KEY=VALUE`` list -> (max_size bytes (0: unlimited), max_file). Raises
    :class:`VmvcError` with docker's wording for what json-file does not know."""
    max_size, max_file = DEFAULT_MAX_SIZE, DEFAULT_MAX_FILE
    for opt in opts or ():
        key, sep, value = str(opt).partition("=")
        if not sep:
            raise VmvcError(f"invalid log opt {opt!r}: expected KEY=VALUE")
        if key == "max-size":
            number, unit = value.lower().rstrip("b"), ""
            if number[-1:] in _UNITS:
                number, unit = number[:-1], number[-1]
            if value.strip() == "-1":
                max_size = 0
                continue
            try:
                max_size = int(float(number) * _UNITS[unit])
            except (ValueError, KeyError):
                raise VmvcError(f"invalid max-size {value!r}: use a size such as 10m, 512k or -1") from None
            if max_size <= 0:
                raise VmvcError(f"invalid max-size {value!r}: must be positive (or -1 for unlimited)")
        elif key == "max-file":
            if not value.isdigit() or int(value) < 1:
                raise VmvcError(f"invalid max-file {value!r}: must be a whole number of at least 1")
            max_file = int(value)
        else:
            raise VmvcError(f"unknown log opt '{key}' for json-file log driver (max-size, max-file)")
    return max_size, max_file


def _encode(stream: str, lines: bytes, ts: str) -> bytes:
    """Entries for ``lines`` (one or more lines, each ending in a newline, except possibly a final
    partial one ending without): the fast path for plain text, ``json.dumps`` per line otherwise."""
    if not lines.translate(None, _PLAIN):
        head = b'{"log":"'
        end = f'","stream":"{stream}","time":"{ts}"}}\n'.encode()
        if lines.endswith(b"\n"):
            body = lines[:-1].replace(b"\n", b"\\n" + end + head) + b"\\n"
        else:
            body = lines.replace(b"\n", b"\\n" + end + head)
        return head + body + end
    parts = lines.split(b"\n")
    last = parts.pop()  # b"" when the lines end with a newline
    out = []
    for line in [p + b"\n" for p in parts] + ([last] if last else []):
        text = line.decode("utf-8", "replace")
        out.append(json.dumps({"log": text, "stream": stream, "time": ts}).encode() + b"\n")
    return b"".join(out)


class LogWriter:
    """Appends one container's output, rotating at ``max_size`` (0: never) and keeping ``max_file``
    files; opened lazily so a silent container costs no fd."""

    def __init__(self, path: str, max_size: int = DEFAULT_MAX_SIZE, max_file: int = DEFAULT_MAX_FILE) -> None:
        self.path = path
        self.max_size, self.max_file = max_size, max(1, max_file)
        self._fd: int | None = None
        self._size = 0
        self._partial = {"stdout": b"", "stderr": b""}

    def write(self, stream: str, data: bytes) -> None:
        buf = self._partial[stream] + data if self._partial[stream] else data
        cut = buf.rfind(b"\n") + 1
        ts = now()
        if cut:
            self._append(_encode(stream, buf[:cut], ts))
            buf = buf[cut:]
        while len(buf) >= MAX_PARTIAL:
            self._append(_encode(stream, buf[:MAX_PARTIAL], ts))
            buf = buf[MAX_PARTIAL:]
        self._partial[stream] = buf

    def _append(self, blob: bytes) -> None:
        """Write whole entries, rotating first whenever the next ones would not fit."""
        while blob:
            if self._fd is None:
                self._open()
            room = self.max_size - self._size if self.max_size else len(blob)
            if len(blob) <= room:
                self._write(blob)
                return
            cut = blob.rfind(b"\n", 0, max(room, 0)) + 1  # the entries that still fit
            if not cut and self._size == 0:
                cut = blob.find(b"\n") + 1  # one entry larger than max-size: a file of its own
            if cut:
                self._write(blob[:cut])
                blob = blob[cut:]
            self._rotate()

    def _write(self, blob: bytes) -> None:
        view = memoryview(blob)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        self._size += len(blob)

    def _open(self) -> None:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        self._size = os.fstat(self._fd).st_size

    def _rotate(self) -> None:
        os.close(self._fd)
        self._fd = None
        if self.max_file == 1:
            os.truncate(self.path, 0)  # docker: with max-file=1 the one file starts over
            return
        for i in range(self.max_file - 1, 1, -1):
            try:
                os.replace(f"{self.path}.{i - 1}", f"{self.path}.{i}")
            except FileNotFoundError:
                pass
        os.replace(self.path, f"{self.path}.1")

    def close(self) -> None:
        for stream, rest in self._partial.items():
            if rest:
                self._append(_encode(stream, rest, now()))
        self._partial = {"stdout": b"", "stderr": b""}
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def files(path: str) -> list[str]:
    """The log's files, oldest first: the rotated ``path.N`` … ``path.1``, then ``path``."""
    directory, base = os.path.split(path)
    try:
        names = os.listdir(directory or ".")
    except OSError:
        return []
    rotated = []
    for name in names:
        suffix = name[len(base) + 1 :]
        if name.startswith(base + ".") and suffix.isdigit():
            rotated.append((int(suffix), os.path.join(directory, name)))
    return [p for _, p in sorted(rotated, reverse=True)] + [path]


def _entries(lines) -> Iterator[dict]:
    for line in lines:
        try:
            yield loads(line)  # the C scanner directly: json.loads on bytes is ~4x slower per line
        except (ValueError, UnicodeDecodeError):
            continue  # a line being written right now


def _lines(paths: list[str]) -> Iterator[bytes]:
    for p in paths:
        try:
            f = open(p, "rb")
        except FileNotFoundError:
            continue  # rotated away meanwhile
        with f:
            yield from f


def stream(path: str, tail: int | None = None) -> Iterator[dict]:
    """Every entry, oldest first, across rotated files, in constant memory (``tail``: the last N)."""
    if tail == 0:
        return iter(())
    lines = _lines(files(path))
    return _entries(deque(lines, maxlen=tail) if tail is not None else lines)


def read(path: str, tail: int | None = None) -> list[dict]:
    """:func:`stream` as a list (small logs; tests)."""
    return list(stream(path, tail))


def follow(
    path: str, running: Callable[[], bool], tail: int | None = None, poll: float = 0.05
) -> Iterator[dict]:
    """Entries so far (or the last ``tail``), then new ones until ``running()`` turns false -- across
    rotations: the file being read is finished before the new one is opened."""
    try:
        current = open(path, "rb")
    except FileNotFoundError:
        current = None
    history = _lines(files(path)[:-1])
    partial = [b""]  # a last line still being written: completed by the next read
    if current is not None:
        history = _chain(history, current, partial)
    if tail != 0:
        yield from _entries(deque(history, maxlen=tail) if tail is not None else history)
    else:
        for _ in history:
            pass
    pending = partial[0]
    try:
        while True:
            alive = running()
            chunk = current.read() if current is not None else b""
            if chunk:
                pending += chunk
                *complete, pending = pending.split(b"\n")
                yield from _entries(complete)
                continue
            if _replaced(path, current):  # rotated (or first created): go on with the new file
                if current is not None:
                    current.close()
                try:
                    current = open(path, "rb")
                except FileNotFoundError:
                    current = None
                pending = b""
                continue
            if not alive:
                return
            time.sleep(poll)
    finally:
        if current is not None:
            current.close()


def _chain(first: Iterator[bytes], f, partial: list[bytes]) -> Iterator[bytes]:
    yield from first
    for line in f:
        if line.endswith(b"\n"):
            yield line
        else:
            partial[0] = line


def _replaced(path: str, f) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    return f is None or os.fstat(f.fileno()).st_ino != st.st_ino


def format_entry(entry: dict, timestamps: bool = False) -> bytes:
    text = entry.get("log", "")
    if timestamps:
        text = f"{entry.get('time', '')} {text}"
    return text.encode("utf-8", "replace")
