"""docker's multiplexed stream: ``[stream, 0, 0, 0, uint32 big-endian size]`` + payload per frame
(1 = stdout, 2 = stderr). With a TTY there is no framing: every byte is stdout."""

from __future__ import annotations

import struct

from runtime.errors import VmvcError

_HEADER = struct.Struct(">BxxxI")
MAX_FRAME = 64 << 20  # a frame is kept whole (a log entry with its timestamp); a peer's 4 GiB one is refused


class Demux:
    """Feed bytes as they arrive; get whole ``(stream, payload)`` frames back."""

    def __init__(self, raw: bool = False) -> None:
        self.raw = raw
        self.buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        if self.raw:
            return [(1, bytes(data))] if data else []
        self.buf += data
        out = []
        while len(self.buf) >= _HEADER.size:
            kind, size = _HEADER.unpack_from(self.buf)
            if size > MAX_FRAME:
                raise VmvcError(f"the daemon sent a stream frame of {size} bytes (more than "
                                f"{MAX_FRAME >> 20} MiB): not a Docker Engine API stream")
            if len(self.buf) < _HEADER.size + size:
                break
            out.append((kind, bytes(self.buf[_HEADER.size:_HEADER.size + size])))
            del self.buf[:_HEADER.size + size]
        return out
