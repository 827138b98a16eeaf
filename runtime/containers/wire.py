"""The spawner's wire format: typed, length-prefixed frames on a unix stream socket.

A frame is ``[kind: 1 byte][length: 4 bytes big-endian][payload]``, as docker's multiplexed
attach stream does for stdout/stderr. Kinds: 0 stdin, 1 stdout, 2 stderr, ``J`` a JSON message
(requests, replies, ``{"exit": n}``, ``{"resize": [h, w]}``). An empty stdin frame means EOF.

JSON is encoded and decoded with the C accelerator ``_json`` directly: the same bytes as
``json.dumps``/``json.loads`` give, without importing ``json`` -- whose decoder imports ``re`` and
``enum``, about 5 ms of a ~30 ms ``vmvc run`` (the CLI imports this module and little else).
``_json`` is private to CPython: where it is missing or changed, the same functions fall back to the
public ``json`` module (``FAST`` says which is in use), so an upgrade costs start-up time, not behaviour.
"""

from __future__ import annotations

import struct

try:
    from _json import encode_basestring_ascii, make_encoder, make_scanner
except ImportError:  # not CPython, or a CPython whose private accelerator changed
    make_encoder = make_scanner = None

STDIN, STDOUT, STDERR, JSON = 0, 1, 2, ord("J")
PROTOCOL = 2  # every request carries it as "v"; a spawner of another version steps aside
HEADER = struct.Struct(">BI")


def frame(kind: int, payload: bytes) -> bytes:
    return HEADER.pack(kind, len(payload)) + payload


def _unserializable(o):
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


def _c_dumps(obj) -> str:
    """``json.dumps(obj)`` (default separators, ASCII, circular references refused)."""
    encode = make_encoder({}, _unserializable, encode_basestring_ascii, None, ": ", ", ", False, False, True)
    return "".join(encode(obj, 0))


class _ScanContext:
    """The attributes ``_json.make_scanner`` reads (``json.JSONDecoder``'s, with its defaults)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}.__getitem__
    memo: dict = {}


def _c_loads(text: str | bytes):
    """``json.loads`` of one JSON value (surrounding whitespace allowed); ValueError if malformed."""
    if isinstance(text, (bytes, bytearray)):
        text = text.decode()
    start = len(text) - len(text.lstrip(" \t\n\r"))
    try:
        obj, end = _scan(text, start)
    except StopIteration as e:
        raise ValueError(f"malformed JSON at {e.value}") from None
    if text[end:].strip(" \t\n\r"):
        raise ValueError(f"extra data after JSON at {end}")
    return obj


def _public_dumps(obj) -> str:
    import json

    return json.dumps(obj)


def _public_loads(text: str | bytes):
    import json

    return json.loads(text)  # its JSONDecodeError is a ValueError, as above


try:
    _scan = make_scanner(_ScanContext())
    FAST = _c_loads("[1]") == [1] and _c_dumps({"a": [1]}) == '{"a": [1]}'
except Exception:  # the private signatures changed
    FAST = False
dumps, loads = (_c_dumps, _c_loads) if FAST else (_public_dumps, _public_loads)


def message(obj: dict) -> bytes:
    return frame(JSON, dumps(obj).encode())


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
    return loads(payload)
