"""Test helpers: run code in a private mount namespace, build tarballs by hand."""

from __future__ import annotations

import io
import json
import os
import tarfile
import traceback

from runtime.linux.syscalls import CLONE_NEWNS, MS_PRIVATE, MS_REC, syscalls


def in_mount_ns(fn, *args):
    """Run ``fn(*args)`` in a forked child with a private mount namespace; return its JSON-able result.

    Every mount the child makes dies with it, so a failing test cannot leak mounts onto the host.
    """
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(r)
        code = 0
        try:
            sys_ = syscalls()
            sys_.unshare(CLONE_NEWNS)
            sys_.mount(None, "/", None, MS_REC | MS_PRIVATE)
            out = json.dumps({"ok": fn(sys_, *args)})
        except BaseException:
            out, code = json.dumps({"error": traceback.format_exc()}), 1
        os.write(w, out.encode())
        os.close(w)
        os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    result = json.loads(data)
    if "error" in result:
        raise AssertionError("child failed:\n" + result["error"])
    return result["ok"]


def make_tar(entries: list[tuple], fmt=tarfile.PAX_FORMAT) -> bytes:
    """A tar from rows ``(name, kind, payload)``; kind: dir, file, symlink, link, chr, fifo."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for row in entries:
            name, kind = row[0], row[1]
            payload = row[2] if len(row) > 2 else None
            info = tarfile.TarInfo(name)
            info.mode = 0o755 if kind == "dir" else 0o644
            info.mtime = 1700000000
            if kind == "dir":
                info.type = tarfile.DIRTYPE
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, payload
            elif kind == "link":
                info.type, info.linkname = tarfile.LNKTYPE, payload
            elif kind == "chr":
                info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
            if kind == "file":
                data = payload if isinstance(payload, bytes) else (payload or "").encode()
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            else:
                tf.addfile(info)
    return buf.getvalue()


def tree(root: str) -> dict[str, str]:
    """{relative path: kind or file content} of a directory, for comparing mounted views."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            if os.path.islink(path):
                out[rel] = "-> " + os.readlink(path)
            elif os.path.isdir(path):
                out[rel] = "dir"
            else:
                with open(path, "rb") as f:
                    out[rel] = f.read().decode(errors="replace")
    return out


def make_docker_archive(layer_tars: list[bytes], tags: list[str], cmd: list[str] | None = None) -> bytes:
    """A docker-archive (legacy ``<n>/layer.tar`` layout) from layer tars, bottom first."""
    import hashlib

    diff_ids = ["sha256:" + hashlib.sha256(t).hexdigest() for t in layer_tars]
    config = json.dumps({"architecture": "amd64", "os": "linux", "created": "2025-01-02T03:04:05Z",
                         "config": {"Cmd": cmd or ["sh"]},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    files = {config_name: config}
    names = []
    for i, t in enumerate(layer_tars):
        files[f"{i:064d}/layer.tar"] = t
        names.append(f"{i:064d}/layer.tar")
    files["manifest.json"] = json.dumps([{"Config": config_name, "RepoTags": tags, "Layers": names}]).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()
