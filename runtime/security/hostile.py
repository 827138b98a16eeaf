"""Hostile input, as a user or a script could send it: bad ``run`` flags, broken archives, bad API requests.

Each case must be *rejected cleanly*: through the real CLI, one line on stderr (``vmvc: …``; a flag
argparse refuses may add docker's "See --help" line), a non-zero exit (125 for a bad flag), no
traceback and nothing left behind (:mod:`runtime.security.leftovers`); through the daemon's API, a 4xx
with a JSON ``message`` and a daemon that still answers ``/_ping``. The generators here are shared by
the tests (tests/robustness, tests/daemon) and the security figures (:mod:`runtime.security.figures`).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile

# ``vmvc run --rm FLAGS busybox true``: each refused with exit 125 before anything exists
BAD_RUN_FLAGS = [
    ["--cpus", "nan"], ["--cpus", "inf"], ["--cpus", "-1"], ["--cpus", "1e400"], ["-m", "nan"],
    ["-m", "99999999999999999999t"], ["--pids-limit", "99999999999999999999999"], ["-w", "relative"],
    ["-v", "/nonexistent-h4:/x:zz"], ["--name", "bad name"], ["--storage-opt", "size=1G"],
    ["--security-opt", "seccomp=/nonexistent.json"], ["--security-opt", "seccomp={"],
    ["--log-opt", "max-size=lots"],
]

# (method, path, body, the status dockerd gives): the daemon must answer each with that status and JSON
BAD_REQUESTS = [
    ("POST", "/containers/create", b"{not json", 400),
    ("POST", "/containers/create", b"[1,2]", 400),
    ("POST", "/containers/create", json.dumps({"Image": 5}).encode(), 400),
    ("POST", "/containers/create", json.dumps({"Image": "busybox", "Cmd": [1]}).encode(), 400),
    ("POST", "/containers/create", json.dumps({"Image": "busybox", "HostConfig": {"Memory": "x"}}).encode(),
     400),
    ("POST", "/containers/create", json.dumps({"Image": "busybox", "HostConfig": {"Memory": 1}}).encode(),
     400),
    ("POST", "/containers/create?name=bad/name", json.dumps({"Image": "busybox"}).encode(), 400),
    ("GET", "/containers/nosuch/json", None, 404),
    ("POST", "/containers/nosuch/start", None, 404),
    ("DELETE", "/containers/nosuch", None, 404),
    ("GET", "/v1.45/images/nosuch/json", None, 404),
    ("GET", "/exec/nosuch/json", None, 404),
    ("GET", "/plugins", None, 404),
    ("GET", "/networks/bridge", None, 404),
    ("POST", "/containers/json", None, 404),
    ("GET", "/containers/json?filters=%7Bbad", None, 400),
    ("POST", "/containers/create", b"[" * 100_000 + b"]" * 100_000, 400),  # nested past the stack
    ("GET", "/v99.0/containers/json", None, 400),  # dockerd: client version too new
    ("GET", "/v1.12/containers/json", None, 400),  # and too old
]


def _tar(files: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1700000000
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def bad_archives(tmp: str) -> dict[str, tuple[str, bool]]:
    """name -> (path, also a bad rootfs for ``import``): broken ``load`` archives written into ``tmp``
    (the last one does not exist). The others are valid tars ``import`` would rightly take."""
    def put(name: str, data: bytes) -> str:
        path = os.path.join(tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    manifest = lambda m: _tar([("manifest.json", json.dumps(m).encode())])  # noqa: E731
    return {
        "junk": (put("junk", b"not a tar at all" * 40), True),
        "truncated gzip": (put("t.tgz", gzip.compress(_tar([("a", b"x" * 5000)]))[:60]), True),
        "manifest of strings": (put("m1.tar", manifest(["x"])), False),
        "manifest without Config": (put("m2.tar", manifest([{"Layers": []}])), False),
        "Config not a string": (put("m3.tar", manifest([{"Config": 5}])), False),
        "deep JSON": (put("m4.tar", _tar([("manifest.json", b"[" * 100000)])), False),
        "OCI index of ints": (put("o1.tar", _tar([("index.json", b'{"manifests": [5]}')])), False),
        "unsafe layer": (put("u.tar", _tar([("../escape", b"x")])), True),
        "missing file": (os.path.join(tmp, "does-not-exist.tar"), True),
    }


def vmvc_argv() -> list[str]:
    """The ``vmvc`` command of this interpreter: the installed launcher when there is one."""
    launcher = os.path.join(os.path.dirname(sys.executable), "vmvc")
    return [launcher] if os.access(launcher, os.X_OK) else [sys.executable, "-m", "runtime.cli.main"]


def cli(args: list[str], root: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``vmvc ARGS`` on state root ``root``."""
    return subprocess.run([*vmvc_argv(), *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, env={**os.environ, "VMVC_ROOT": root})


def one_clean_line(r: subprocess.CompletedProcess, lines: int = 1, prefix: str = "vmvc: ") -> str:
    """'' if ``r`` failed with at most ``lines`` lines, the first starting with ``prefix``, and no
    traceback; else what is wrong."""
    err = r.stderr.strip().splitlines()
    if r.returncode == 0:
        return "accepted (exit 0)"
    if "Traceback" in r.stderr:
        return "a traceback"
    if not err or len(err) > lines or not err[0].startswith(prefix):
        return f"{len(err)} lines on stderr: {err[:1]}"
    return ""


def try_cli(root: str, tmp: str) -> list[dict]:
    """Every bad ``run`` flag and broken archive through the real CLI on state root ``root``:
    ``[{name, held, detail}]``, held = refused with one clean line and nothing left behind."""
    from runtime.security import leftovers

    cases = [(f"run {' '.join(flags)}", ["run", "--rm", *flags, "busybox", "true"], 2)
             for flags in BAD_RUN_FLAGS]
    for name, (path, as_rootfs) in bad_archives(tmp).items():
        cases.append((f"load: {name}", ["load", "-i", path], 1))
        if as_rootfs:
            cases.append((f"import: {name}", ["import", path, "bad:1"], 1))
    out = []
    for name, args, lines in cases:
        before = leftovers.snapshot(root)
        r = cli(args, root)
        problems = [p for p in [one_clean_line(r, lines)] if p]
        if args[0] == "run" and r.returncode != 125:
            problems.append(f"exit {r.returncode}, not 125")
        problems += leftovers.grown(before, leftovers.snapshot(root))
        line = r.stderr.strip().splitlines()[0] if r.stderr.strip() else ""
        out.append({"name": name, "held": not problems,
                    "detail": "; ".join(problems) or f"exit {r.returncode}: {line[:100]}"})
    return out


def _call(sock: str, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    import http.client
    import socket

    class UnixHTTP(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.settimeout(30)
            self.sock.connect(sock)

    conn = UnixHTTP("localhost", timeout=30)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def try_api(root: str) -> list[dict]:
    """Every :data:`BAD_REQUESTS` to a ``vmvc daemon`` started on ``root`` (and stopped after):
    held = dockerd's status with a JSON message, and the daemon still answers."""
    import signal
    import time

    from runtime.errors import VmvcError
    from runtime.security import leftovers

    sock = os.path.join(root, "security.sock")
    log = os.path.join(root, "security-daemon.log")
    with open(log, "wb") as f:  # a file, not a pipe: a chatty daemon must not block on its stderr
        proc = subprocess.Popen([*vmvc_argv(), "daemon", "-H", f"unix://{sock}"],
                                env={**os.environ, "VMVC_ROOT": root}, stdin=subprocess.DEVNULL,
                                stdout=f, stderr=f)
    with open(os.path.join(root, "security-daemon.pid"), "w") as f:  # for the next run, if this one is killed
        f.write(str(proc.pid))
    out = []
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(sock):
            if proc.poll() is not None or time.monotonic() > deadline:
                with open(log, errors="replace") as f:
                    why = f.read(300).strip() if proc.poll() is not None else "timeout"
                raise VmvcError(f"vmvc daemon did not start: {why}")
            time.sleep(0.02)
        for method, path, body, want in BAD_REQUESTS:
            before = leftovers.snapshot(root)
            try:
                status, raw = _call(sock, method, path, body)
                problems = [] if status == want else [f"status {status}, not {want}"]
                try:
                    message = json.loads(raw).get("message", "")
                except (ValueError, AttributeError):
                    message = ""
                if not message:
                    problems.append("no JSON message")
            except OSError as e:
                problems, message = [f"the daemon dropped it: {e}"], ""
            if _call(sock, "GET", "/_ping") != (200, b"OK"):
                problems.append("the daemon stopped answering")
            problems += leftovers.grown(before, leftovers.snapshot(root))
            label = f"{method} {path[:40]}" + (f" ({len(body)} B body)" if body and len(body) > 40 else
                                               f" {body.decode()[:40]}" if body else "")
            out.append({"name": label, "held": not problems,
                        "detail": "; ".join(problems) or f"{status}: {message[:80]}"})
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return out
