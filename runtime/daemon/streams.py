"""Pump an engine session (a blocking spawner stream) into a hijacked HTTP connection, both ways.

Output frames become docker's 8-byte-header frames (``[stream, 0, 0, 0, size]`` + payload; raw bytes
with a TTY); the client's bytes become the container's stdin, and its half-close becomes EOF. When the
process exits the write side is shut down, which is how the docker CLI learns the stream has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct

from runtime.containers import wire

_HEADER = struct.Struct(">BxxxI")


def docker_frame(kind: int, payload: bytes) -> bytes:
    return _HEADER.pack(kind, len(payload)) + payload


async def pump(d, req, session, *, tty: bool, stdin: bool, want=(1, 2), stdin_ready=None,
               on_exit=None) -> int | None:
    """Copy until the process exits or the client goes; returns the exit code (None if unknown)."""
    writer, reader = req.writer, req.reader
    exit_code = None

    async def client_to_stdin():
        if stdin_ready is not None:
            await stdin_ready.wait()
        while True:
            data = await reader.read(65536)
            if not data:
                if stdin:
                    await d.call(session.close_stdin)
                    return
                return  # a half-close without stdin: keep the output flowing
            if stdin:
                await d.call(session.send_stdin, data)

    async def output():
        nonlocal exit_code
        while True:
            frames = await d.call(session.read)
            if not frames:
                break
            out = bytearray()
            for kind, payload in frames:
                if kind in (wire.STDOUT, wire.STDERR):
                    if kind in want:
                        out += payload if tty else docker_frame(kind, payload)
                elif kind == wire.JSON:
                    msg = wire.decode_json(payload)
                    if "exit" in msg:
                        exit_code = msg["exit"]
            if out:
                writer.write(bytes(out))
                await writer.drain()
            if exit_code is not None:
                break

    out_task = asyncio.ensure_future(output())
    in_task = asyncio.ensure_future(client_to_stdin())
    try:
        while not out_task.done():
            done, _ = await asyncio.wait({out_task, in_task}, return_when=asyncio.FIRST_COMPLETED)
            if in_task in done and in_task.exception() is not None:
                break  # the client is gone: stop streaming to it
            if in_task in done and not stdin:
                # half-closed without stdin (or closed): wait for output; a reset shows up on write
                in_task = asyncio.ensure_future(asyncio.sleep(3600))
    finally:
        if not out_task.done():
            session.close()  # unblocks the reading thread
            with contextlib.suppress(Exception):
                await out_task
        if not in_task.done():
            in_task.cancel()
        if on_exit is not None:
            on_exit(exit_code)
        with contextlib.suppress(Exception):
            await writer.drain()
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.shutdown(socket.SHUT_WR)
        session.close()
    return exit_code
