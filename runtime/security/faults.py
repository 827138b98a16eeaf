"""Faults injected into a running engine, each of which once took it down (issue 10); what "survived" is.

* ``kill -9`` of a container's init: the container is reported exited (137), its cgroup and mounts go
  once it is removed, and the engine keeps starting containers;
* a FIFO at ``/etc/passwd`` plus ``exec -u NAME``: an answer within seconds (one line: no such user),
  never a frozen engine;
* a tree deeper than Python's recursion limit in a ``--rm`` container's ``/tmp``: the janitor deletes
  it, and the spawner and the janitor are the same processes afterwards;
* a log flood (``yes`` detached): other containers still start (:func:`log_flood` measures by how
  much slower, the "load held" figure), the spawner's CPU is bounded and the log stays within its
  rotation limit.

Each function returns ``{"name", "held", "detail"}``; :mod:`runtime.security.figures` runs them on a
throw-away state root and checks :mod:`runtime.security.leftovers` around them.
"""

from __future__ import annotations

import os
import statistics
import time

from runtime.security import leftovers
from runtime.security.hostile import cli, one_clean_line

# Wraps the tree in a new directory each round: the container never needs a long path, yet the host
# sees a chain deeper than Python's recursion limit (~1000).
DEEP = "cd /tmp && mkdir d && i=0 && while [ $i -lt {n} ]; do mkdir t; mv d t/; mv t d; i=$((i+1)); done"


def _until(pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _alive(engine) -> bool:
    from runtime.containers import Spec

    r = engine.run(Spec("busybox", ["echo", "alive"], auto_remove=True))
    return r.exit_code == 0 and r.stdout == b"alive\n"


def _left(before: dict, root: str) -> list[str]:
    """What grew since ``before``, once the janitor had up to 30 s (a loaded host) to remove cgroups off
    the loop."""
    _until(lambda: not leftovers.grown(before, leftovers.snapshot(root)), 30)
    return leftovers.grown(before, leftovers.snapshot(root))


def _detached(root: str, name: str, script: str) -> list[str]:
    """``vmvc run -d --name NAME busybox sh -c SCRIPT``; [] or why it did not start."""
    r = cli(["run", "-d", "--name", name, "busybox", "sh", "-c", script], root)
    return [] if r.returncode == 0 else [f"{name} did not start: {r.stderr.strip()[:80]}"]


def _item(name: str, problems: list[str], detail: str) -> dict:
    return {"name": name, "held": not problems, "detail": "; ".join(problems) or detail}


def kill_init(engine, root: str) -> dict:
    from runtime.containers import Spec

    before = leftovers.snapshot(root)
    cid = engine.create(Spec("busybox", ["sleep", "600"]))
    engine.start(cid)
    pid = engine.inspect(cid)["State"]["Pid"]
    os.kill(pid, 9)
    code = engine.wait(cid)
    problems = [] if code == 137 else [f"exit code {code}, not 137"]
    if not _alive(engine):
        problems.append("the engine no longer starts containers")
    engine.remove(cid)
    return _item("kill -9 of a container's init", problems + _left(before, root),
                 f"exit {code}; removed with nothing left; the next container started")


def fifo_passwd(engine, root: str) -> dict:
    before = leftovers.snapshot(root)
    name = "vmvc-fifo-trap"
    problems = _detached(root, name, "rm /etc/passwd && mkfifo /etc/passwd && exec sleep 120")
    try:
        if not problems and not _until(lambda: cli(["exec", name, "test", "-p", "/etc/passwd"], root)
                                       .returncode == 0, 30):
            problems.append("the FIFO never appeared")
        t = time.monotonic()
        r = cli(["exec", "-u", "someuser", name, "id"], root, timeout=30)
        seconds = time.monotonic() - t
        wrong = one_clean_line(r, prefix="")  # docker's words: "Error response from daemon: unable to…"
        if wrong or "unable to find user" not in r.stderr:
            problems.append(f"exec -u: {wrong or r.stderr.strip()[:80]}")
        if not _alive(engine):
            problems.append("the engine no longer starts containers")
    finally:
        cli(["rm", "-f", name], root)
    problems += _left(before, root)
    return _item("FIFO /etc/passwd + exec -u", problems,
                 f"exec -u answered in {seconds:.2f} s with one line (no such user); the engine kept serving")


def deep_tree(engine, root: str, depth: int = 1100) -> dict:
    from runtime.containers import Spec

    before = leftovers.snapshot(root)
    ping = engine.spawner.request({"op": "ping"})
    r = engine.run(Spec("busybox", ["sh", "-c", DEEP.format(n=depth)], auto_remove=True))
    problems = [] if r.exit_code == 0 else [f"the tree was not made (exit {r.exit_code})"]
    purged = _until(lambda: not [n for n in os.listdir(engine.root) if n.startswith(".rm-")], 120)
    if not purged:
        problems.append("the janitor did not delete it within 120 s")
    after = engine.spawner.request({"op": "ping"})
    if (after["pid"], after["janitor"]) != (ping["pid"], ping["janitor"]):
        problems.append("the spawner or its janitor was replaced (it died)")
    if not _alive(engine):
        problems.append("the engine no longer starts containers")
    problems += _left(before, root)
    return _item(f"tree {depth} levels deep in /tmp, then --rm", problems,
                 "the janitor deleted it; same spawner and janitor processes; the engine kept serving")


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def log_flood(engine, root: str, starts: int = 9, sample=None) -> dict:
    """Start latency of ``busybox true --rm`` with the host idle, beside a ``yes`` container flooding
    its log, and beside a container that only burns a CPU (no output: the share of the slowdown that
    is plain CPU contention on a small host, not the engine pumping logs). ``sample(phase, ms)`` sees
    every start. Returns the item plus ``{"idle_ms", "flood_ms", "busy_ms", "ratio", "busy_ratio",
    "spawner_cpu", "log_bytes", "log_limit", "starts"}``: ratio = flood / idle medians."""
    from runtime.containers import Spec
    from runtime.containers.logs import DEFAULT_MAX_FILE, DEFAULT_MAX_SIZE

    def timed(phase: str) -> list[float]:
        out = []
        for _ in range(starts):
            t = time.perf_counter()
            engine.run(Spec("busybox", ["true"], auto_remove=True))
            out.append(1000 * (time.perf_counter() - t))
            if sample:
                sample(phase, out[-1])
        return out

    def beside(cmd: list[str], phase: str) -> tuple[list[float], float, int]:
        """Starts timed while ``cmd`` runs in another container; the spawner's CPU share meanwhile and
        the bytes of that container's logs."""
        cid = engine.create(Spec("busybox", cmd))
        engine.start(cid)
        try:
            time.sleep(0.5)  # under way
            cpu0, t0 = _cpu_seconds(spawner), time.monotonic()
            ms = timed(phase)
            cpu = (_cpu_seconds(spawner) - cpu0) / (time.monotonic() - t0)
        finally:
            engine.kill(cid)
            engine.wait(cid)
        cdir = os.path.join(engine.root, cid)
        size = sum(os.path.getsize(os.path.join(cdir, n)) for n in os.listdir(cdir) if ".log" in n)
        engine.remove(cid)
        return ms, cpu, size

    before_snap = leftovers.snapshot(root)
    engine.run(Spec("busybox", ["true"], auto_remove=True))  # warm
    spawner = engine.spawner.request({"op": "ping"})["pid"]
    idle = timed("idle")
    flood, cpu, log_bytes = beside(["yes"], "flood")
    busy, _, _ = beside(["sh", "-c", "while :; do :; done"], "busy CPU")
    idle += timed("idle")
    base, flood_ms, busy_ms = (statistics.median(v) for v in (idle, flood, busy))
    ratio = flood_ms / base
    limit = DEFAULT_MAX_SIZE * DEFAULT_MAX_FILE
    problems = [] if log_bytes <= limit + (1 << 20) else [f"the log grew to {log_bytes >> 20} MB"]
    problems += _left(before_snap, root)
    item = _item("log flood (yes) while others start", problems,
                 f"starts {ratio:.2f}x slower during the flood ({flood_ms:.0f} vs {base:.0f} ms; "
                 f"{busy_ms / base:.2f}x beside a silent CPU burner); spawner at {100 * cpu:.0f}% CPU; "
                 f"log {log_bytes >> 20} MB (limit {limit >> 20} MB)")
    item.update(idle_ms=base, flood_ms=flood_ms, busy_ms=busy_ms, ratio=ratio, busy_ratio=busy_ms / base,
                spawner_cpu=cpu, log_bytes=log_bytes, log_limit=limit, starts=starts)
    return item


def damaged_record(engine, root: str) -> dict:
    """A container record (``config.json``) turned to garbage: ``ps -a`` still lists the others, says
    so in one line and moves the record aside; the next ``ps -a`` is quiet."""
    import json

    from runtime.containers import Spec

    before = leftovers.snapshot(root)
    engine.create(Spec("busybox", ["true"], name="vmvc-sec-kept"))
    cid = engine.create(Spec("busybox", ["true"], name="vmvc-sec-damaged"))
    with open(os.path.join(engine.root, cid, "config.json"), "wb") as f:
        f.write(b"\x00\xff garbage")
    first, second = cli(["ps", "-a", "--json"], root), cli(["ps", "-a"], root)
    problems = []
    try:
        names = [c["Names"][0].lstrip("/") for c in json.loads(first.stdout)]
    except (ValueError, KeyError, IndexError, TypeError):
        names = []
    if first.returncode != 0 or names != ["vmvc-sec-kept"]:
        problems.append(f"ps -a: exit {first.returncode}, listed {names}")
    if len(first.stderr.strip().splitlines()) != 1 or "damaged" not in first.stderr:
        problems.append(f"ps -a said {first.stderr.strip()[:100]!r}")
    if second.stderr:
        problems.append("the damage was reported again")
    if cli(["rm", "vmvc-sec-kept"], root).returncode != 0:
        problems.append("the other container could not be removed")
    problems += _left(before, root)
    return _item("garbage config.json of a container", problems,
                 "ps -a listed the others and said so in one line; the record moved to .quarantine")


def damaged_layer(engine, root: str) -> dict:
    """A file in an image's layer changed on disk: ``image verify`` finds it, a run of the image is
    refused with one line, the image can still be removed."""
    import io

    from runtime.images import open_store
    from runtime.security.hostile import _tar

    store = open_store()
    before = leftovers.snapshot(root)
    image = store.import_tar(io.BytesIO(_tar([("bin/sh", b"#!" + b"x" * 200), ("etc/motd", b"hi")])),
                             "vmvc-sec-tiny:1")
    with open(os.path.join(store.layer_dir(image.diff_ids[-1]), "bin/sh"), "r+b") as f:
        f.seek(50)
        f.write(b"y")
    problems = []
    r = cli(["image", "verify", "vmvc-sec-tiny:1"], root)
    if r.returncode != 1 or "DAMAGED" not in r.stdout:
        problems.append(f"verify: exit {r.returncode}, {r.stdout.strip()[:80]!r}")
    r = cli(["run", "--rm", "vmvc-sec-tiny:1", "/bin/sh"], root)
    wrong = one_clean_line(r, prefix="")
    if wrong or "damaged" not in r.stderr:
        problems.append(f"run: {wrong or r.stderr.strip()[:80]}")
    if cli(["rmi", "vmvc-sec-tiny:1"], root).returncode != 0:
        problems.append("rmi failed")
    problems += _left(before, root)
    return _item("a layer file changed on disk", problems,
                 "image verify found it; run refused it in one line; rmi removed it")


def _proc_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def kill_spawner(engine, root: str) -> dict:
    """``kill -9`` of the spawner while a container prints: the container keeps running (the state
    root's keeper holds it) and the next command's spawner adopts it, its log going on."""
    import json

    before = leftovers.snapshot(root)
    name = "vmvc-sec-printer"
    problems = _detached(root, name, "i=0; while :; do echo line $i; i=$((i+1)); sleep 0.1; done")
    try:
        cid = engine.table.resolve(name)
        init = engine.inspect(cid)["State"]["Pid"]
        log = engine.table.log_path(cid)
        size = lambda: os.path.getsize(log) if os.path.exists(log) else 0  # noqa: E731
        _until(lambda: size() > 0, 10)
        spawner = engine.spawner.request({"op": "ping"})["pid"]
        os.kill(spawner, 9)
        if not _until(lambda: not _proc_alive(spawner), 10):
            problems.append("the spawner did not die")
        r = cli(["ps", "--json"], root)  # a new spawner, which adopts what runs
        try:
            states = {c["Names"][0].lstrip("/"): c["State"] for c in json.loads(r.stdout)}
        except (ValueError, KeyError, IndexError, TypeError):
            states = {}
        if states.get(name) != "running":
            problems.append(f"after the kill ps says {states.get(name)!r}: {r.stderr.strip()[:80]}")
        if not _proc_alive(init) or engine.inspect(cid)["State"]["Pid"] != init:
            problems.append("the container's init did not survive")
        grown = size()
        if not _until(lambda: size() > grown, 10):
            problems.append("its log stopped")
        if not _alive(engine):
            problems.append("the engine no longer starts containers")
    finally:
        cli(["rm", "-f", name], root)
    problems += _left(before, root)
    return _item("kill -9 of the spawner", problems,
                 "the running container lived on (same init), the next command's spawner adopted it, its "
                 "log went on")
