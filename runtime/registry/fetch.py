"""One layer of a pull, fetched, verified and extracted in a single pass over its bytes.

As the registry's bytes arrive they go three ways at once: appended to ``downloads/<hex>`` (a stream cut
short is resumed with ``Range`` next time), into sha256 (the blob's digest), and into the store's checked
ingest (:meth:`runtime.images.store.Staging.add_layer`: the same decompression limits, header checks and
``tar -x`` that ``vmvc import`` uses), which extracts into a private directory inside the pull's staging
directory. Nothing is read back from disk.

The extracted directory is only a candidate: the layer counts once every byte has arrived and hashes to
the digest the manifest names (and the uncompressed tar to the config's diff id); otherwise it is
removed with the staging directory, and so is a candidate left by a Ctrl-C or a ``kill -9`` (the store
cleans up the staging directories of dead processes). A resumed download replays the kept bytes
through a new extraction before asking the registry for the rest.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import http.client
import os
import socket
import threading

from runtime.errors import VmvcError
from runtime.registry.errors import DigestMismatch, Unreachable, Unsupported

CHUNK = 1 << 20
DRAIN_LIMIT = 256 << 20  # after a refused archive, read this much more at most to tell a bad digest


class Cancelled(VmvcError):
    """The pull stopped (Ctrl-C, or another layer failed): what arrived is kept for a resume."""


class Sockets:
    """The sockets layers are streaming from, so that a cancel can wake a read blocked on a stalled
    registry at once instead of after its timeout."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.live: set[socket.socket] = set()
        self.cancel = threading.Event()

    def add(self, resp) -> socket.socket | None:
        # http.client keeps the socket behind the response's file object (SocketIO._sock)
        sock = getattr(getattr(getattr(resp, "fp", None), "raw", None), "_sock", None)
        if isinstance(sock, socket.socket):
            with self.lock:
                self.live.add(sock)
                if self.cancel.is_set():
                    _shutdown(sock)
        return sock

    def discard(self, sock) -> None:
        with self.lock:
            self.live.discard(sock)

    def stop(self) -> None:
        with self.lock:
            self.cancel.set()
            for sock in self.live:
                _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


FS_IOC_GETFLAGS, FS_IOC_SETFLAGS, FS_TOPDIR_FL = 0x80086601, 0x40086602, 0x00020000


def spread(directory: str) -> None:
    """Mark ``directory`` as the top of a hierarchy (``chattr +T``): ext4 then places each directory made
    in it in a block group with the most free inodes, instead of next to its parent. A pull writes
    thousands of files; near /tmp and the store, ext4 (without a journal, as on some VM hosts) scans
    every recently deleted inode on each create, which cost more than all the rest of a pull together.
    Elsewhere the flag does nothing (other filesystems refuse it; that is fine)."""
    import array

    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        flags = array.array("I", [0])
        fcntl.ioctl(fd, FS_IOC_GETFLAGS, flags, True)
        if not flags[0] & FS_TOPDIR_FL:
            flags[0] |= FS_TOPDIR_FL
            fcntl.ioctl(fd, FS_IOC_SETFLAGS, flags, True)
    except OSError:
        pass
    finally:
        os.close(fd)


def blob_file(downloads: str, desc: dict) -> tuple[str, str, int]:
    """(path of the download file, short id, size) for a layer descriptor, refusing what is unsafe."""
    digest = desc.get("digest")
    algo, _, hexd = str(digest).partition(":")
    if algo != "sha256" or len(hexd) != 64 or not all(c in "0123456789abcdef" for c in hexd):
        raise Unsupported(f"unsupported layer digest {digest!r}")
    total = desc.get("size")
    if not isinstance(total, int) or isinstance(total, bool) or total <= 0:
        raise Unsupported(f"the manifest gives layer {hexd[:12]} no valid size ({total!r})")
    return os.path.join(downloads, hexd), hexd[:12], total


class Stream:
    """The layer's bytes as a readable stream for the ingest: first the kept download file (a resume),
    then the registry's response. Everything read is hashed and, from the response, appended to the
    download file; never more than the manifest's size plus one byte is read (a hostile registry's
    endless blob stops there)."""

    def __init__(self, fd: int, kept: int, total: int, resp, sockets: Sockets, progress) -> None:
        self.fd, self.total, self.resp, self.sockets, self.progress = fd, total, resp, sockets, progress
        self.sha = hashlib.sha256()
        self.replay = kept  # bytes of the download file still to replay
        self.have = 0       # bytes hashed so far
        self.cut = False    # the connection dropped before the end
        self.keep = True    # append what arrives to the download file
        self.sock = sockets.add(resp) if resp is not None else None

    def read(self, n: int = -1) -> bytes:
        if self.sockets.cancel.is_set():
            raise Cancelled("pull cancelled")
        n = CHUNK if n is None or n < 0 else n
        if self.replay:
            data = os.pread(self.fd, min(n, self.replay), self.have)
            if not data:
                raise VmvcError("the partial download shrank while it was read")
            self.replay -= len(data)
            self.sha.update(data)
            self.have += len(data)
            return data
        if self.resp is None or self.have > self.total or self.cut:
            return b""
        try:
            data = self.resp.read(min(n, self.total + 1 - self.have))
        except (OSError, http.client.HTTPException):
            data = b""
        if self.sockets.cancel.is_set():
            raise Cancelled("pull cancelled")
        if not data:
            self.cut = self.have < self.total
            return b""
        view = memoryview(data) if self.keep else b""
        while view:
            view = view[os.write(self.fd, view):]
        self.sha.update(data)
        self.have += len(data)
        self.progress(self.have)
        return data

    def drain(self, limit: int | None = None) -> None:
        """Read what the registry still sends (up to the size, or ``limit`` more bytes), so the digest
        can be judged."""
        stop = None if limit is None else self.have + limit
        while (stop is None or self.have < stop) and self.read(CHUNK):
            pass

    def verdict(self, digest: str) -> str:
        """"ok", "cut" (resumable) or "bad" (never to be resumed from)."""
        if self.have < self.total:
            return "cut"
        return "ok" if self.have == self.total and "sha256:" + self.sha.hexdigest() == digest else "bad"

    def close(self) -> None:
        if self.resp is not None:
            self.sockets.discard(self.sock)
            self.resp.close()


def fetch_layer(ep, path: str, desc: dict, diff_id: str, downloads: str, staging, scope: str, emit,
                sockets: Sockets) -> str:
    """Stream one layer from ``ep`` into ``staging`` (a :class:`runtime.images.store.Staging` of its own);
    returns its diff id once the blob digest and the diff id both check out."""
    digest = desc["digest"]
    file, short, total = blob_file(downloads, desc)

    def progress(have: int) -> None:
        emit({"status": "Downloading", "id": short, "endpoint": ep.url,
              "progressDetail": {"current": min(have, total), "total": total}})

    fd = os.open(file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    keep = True  # until the bytes are judged (a cancel, or no answer at all, keeps a partial download)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another pull of the same layer into this store: one at a time
        kept = os.fstat(fd).st_size
        if kept > total:
            os.ftruncate(fd, 0)
            kept = 0
        resp = _open(ep, path, digest, scope, kept) if kept < total else None
        if resp is not None and kept and resp.status == 200:  # the server ignored Range: start over
            os.ftruncate(fd, 0)
            kept = 0
        os.lseek(fd, kept, os.SEEK_SET)
        stream = Stream(fd, kept, total, resp, sockets, progress)
        try:
            try:
                got = staging.add_layer(stream)
                failure = None
            except Cancelled:
                raise
            except BaseException as e:
                if isinstance(e, KeyboardInterrupt) or sockets.cancel.is_set():
                    raise
                failure = e
            if failure is None:
                with contextlib.suppress(Cancelled):
                    stream.drain()  # the end of the gzip member: a registry may send bytes beyond it
                verdict = stream.verdict(digest)
            else:  # a bad digest explains a bad archive: read on (not to disk, and not for ever) to judge
                stream.keep = False
                with contextlib.suppress(VmvcError):
                    stream.drain(DRAIN_LIMIT)
                verdict = stream.verdict(digest)
                if verdict == "cut" and not stream.cut:
                    verdict = "unjudged"  # too much left to read: the archive's own error it is
        finally:
            stream.close()
        keep = verdict == "ok" and failure is None  # verified: kept until the image is in the store
        if verdict == "cut":
            keep = True
            raise Unreachable(f"download of layer {short} cut short at {stream.have} of {total} bytes "
                              f"(pull again to resume)", endpoint=ep.url)
        if verdict == "bad":
            raise DigestMismatch(f"digest mismatch for layer {digest}: got sha256:{stream.sha.hexdigest()} "
                                 f"({stream.have} bytes)", endpoint=ep.url)
        if failure is not None:
            raise failure
        emit({"status": "Verifying Checksum", "id": short, "endpoint": ep.url})
        if got != diff_id:
            raise DigestMismatch(f"layer {short} does not match the image config: its content is {got}, "
                                 f"the config says {diff_id}", endpoint=ep.url)
        emit({"status": "Download complete", "id": short, "endpoint": ep.url})
        return got
    finally:
        if not keep or os.fstat(fd).st_size == 0:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(file)  # bad bytes, or good ones the store refused: nothing to resume from
        os.close(fd)


def _open(ep, path: str, digest: str, scope: str, have: int):
    """The blob's response, from byte ``have`` on when the server honours ``Range``."""
    headers = {"Range": f"bytes={have}-"} if have else {}
    resp = ep.request("GET", f"/v2/{path}/blobs/{digest}", headers, scope=scope, ok=(200, 206), stream=True)
    if resp.status == 206 and not (resp.getheader("Content-Range") or "").startswith(f"bytes {have}-"):
        resp.close()
        raise Unreachable(f"{ep.host}: answered a range request with another range", endpoint=ep.url)
    return resp
