"""The spawner's wire format: typed, length-prefixed frames on a unix stream socket.

A frame is ``[kind: 1 byte][length: 4 bytes big-endian][payload]``, as docker's multiplexed
attach stream does for stdout/stderr. Kinds: 0 stdin, 1 stdout, 2 stderr, ``J`` a JSON message
(requests, replies, ``{"exit": n}``, ``{"resize": [h, w]}``). An empty stdin frame means EOF.
"""

from __future__ import annotations

import json
import struct

STDIN, STDOUT, STDERR, JSON = 0, 1, 2, ord("J")
PROTOCOL = 2  # every request carries it as "v"; a spawner of another version steps aside
HEADER = struct.Struct(">BI")


def frame(kind: int, payload: bytes) -> bytes:
    return HEADER.pack(kind, len(payload)) + payload


def message(obj: dict) -> bytes:
    return frame(JSON, json.dumps(obj).encode())


class Decoder:
    """Feed bytes in, take whole frames out (for non-blocking readers)."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self.buf += data
        out = []
        while len(self.buf) >= HEADER.size:
            kind, size = HEADER.unpack_from(self.buf)
            if len(self.buf) < HEADER.size + size:
                break
            out.append((kind, bytes(self.buf[HEADER.size : HEADER.size + size])))
            del self.buf[: HEADER.size + size]
        return out


def decode_json(payload: bytes) -> dict:
    return json.loads(payload)
