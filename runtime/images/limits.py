"""Import limits: a decompression bomb, or an archive bigger than the disk, stops with one line.

A 1 MB gzip once became a 1 GB layer on ``vmvc import``, and nothing stopped an import from filling
the host's disk. Every stream that ``import`` and ``load`` decompress is metered as it is read:

- **ratio**: past the first ``RATIO_FLOOR`` bytes, the output may be at most ``VMVC_IMPORT_MAX_RATIO``
  (default 100) times the compressed bytes read. Real layers compress 2-10x; only runs of zeros or
  other padding go far beyond 100x, which is what a bomb is made of;
- **total**: at most ``VMVC_IMPORT_MAX_BYTES`` (default 64 GiB) uncompressed per stream;
- **free space**: the import stops while the store's filesystem still has ``RESERVE_FRACTION`` of its
  size (at least ``RESERVE_MIN``) free, checked every ``CHECK_EVERY`` bytes, so the host keeps room
  for everything else (the blob and the extracted copy both count, being on that filesystem).

The caller removes the staging directory, so a refused import leaves nothing behind.
"""

from __future__ import annotations

import io
import os

from runtime.errors import VmvcError

DEFAULT_RATIO = 100
DEFAULT_MAX_BYTES = 64 << 30
RATIO_FLOOR = 64 << 20
RESERVE_FRACTION = 0.05
RESERVE_MIN = 1 << 30
CHECK_EVERY = 64 << 20


class ImportLimit(VmvcError):
    """An import would exceed a limit (ratio, total size or the disk's free space)."""


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return str(n)


def _env_number(name: str, default: float) -> float:
    text = os.environ.get(name, "")
    try:
        value = float(text) if text else default
    except ValueError:
        raise VmvcError(f"{name}={text!r} is not a number") from None
    if not value > 0:
        raise VmvcError(f"{name}={text!r} must be positive")
    return value


class Metered(io.RawIOBase):
    """A read-only stream that counts the bytes read through it (the compressed side)."""

    def __init__(self, f) -> None:
        super().__init__()
        self.f, self.count = f, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        data = self.f.read(len(buf))
        n = len(data)
        buf[:n] = data
        self.count += n
        return n


class Budget:
    """What one decompressed stream may still produce; :meth:`charge` raises :class:`ImportLimit`."""

    def __init__(self, where: str | None, compressed: Metered | None = None) -> None:
        """``where``: a directory on the filesystem being filled (None: no free-space check)."""
        self.where, self.compressed = where, compressed
        self.ratio = _env_number("VMVC_IMPORT_MAX_RATIO", DEFAULT_RATIO)
        self.max_bytes = _env_number("VMVC_IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES)
        self.next_check = 0

    def charge(self, produced: int) -> None:
        """``produced``: uncompressed bytes so far."""
        if produced > self.max_bytes:
            raise ImportLimit(f"refusing to import: more than {_size(self.max_bytes)} uncompressed "
                              f"(set VMVC_IMPORT_MAX_BYTES to allow more)")
        read = self.compressed.count if self.compressed is not None else produced
        if produced > RATIO_FLOOR and produced > self.ratio * max(read, 1):
            raise ImportLimit(f"refusing to import: {_size(read)} of compressed input became "
                              f"{_size(produced)} (over {self.ratio:g}x), which is what a decompression "
                              f"bomb does (set VMVC_IMPORT_MAX_RATIO to allow it)")
        if self.where is not None and produced >= self.next_check:
            self.next_check = produced + CHECK_EVERY
            self.check_disk()

    def check_disk(self) -> None:
        st = os.statvfs(self.where)
        free, total = st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize
        reserve = max(RESERVE_MIN, int(total * RESERVE_FRACTION))
        if free < reserve:
            raise ImportLimit(f"refusing to import: only {_size(free)} left free on the filesystem of "
                              f"{self.where}; imports keep {_size(reserve)} free for the host")


def metered(src):
    """``(stream, Metered)``: ``src`` wrapped so that the bytes read from it are counted."""
    meter = Metered(src)
    return io.BufferedReader(meter, 1 << 20), meter
