"""The security figures of issue 10, measured: escapes tried and blocked, hostile inputs rejected cleanly,
faults survived, load held. One library behind ``vmvc doctor --security`` and the bench's ``security``
suite, so both say the same thing.

:func:`measure` works on a throw-away state root (its own spawner, stopped and deleted afterwards) and
returns one row per class::

    {"class": "escape attempts", "verb": "blocked", "tried": 26, "held": 26,
     "measured": "what one case is and what counts as held", "items": [{name, held, detail}, ...]}

plus ``"load"``: the log-flood start latencies and their ratio (:func:`runtime.security.faults.log_flood`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import tempfile
import time


def _row(name: str, verb: str, measured: str, items: list[dict]) -> dict:
    return {"class": name, "verb": verb, "tried": len(items), "held": sum(i["held"] for i in items),
            "measured": measured, "items": items}


PREFIX = "vmvc-security-"


def _reap_stale(tmp: str) -> None:
    """Stop and delete the state roots of earlier runs that were killed (``kill -9`` leaves their
    spawner, containers and daemon running: a log flood among them)."""
    from runtime.containers import Engine
    from runtime.linux import safefs

    for name in os.listdir(tmp):
        root = os.path.join(tmp, name)
        if not name.startswith(PREFIX):
            continue
        st = os.lstat(root)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
            continue  # not one this user made: another user's directory is never touched
        try:
            with open(os.path.join(root, "owner.pid")) as f:
                if os.path.exists(f"/proc/{int(f.read())}"):
                    continue  # a run in progress
        except (OSError, ValueError):
            continue
        with contextlib.suppress(OSError, ValueError), open(os.path.join(root, "security-daemon.pid")) as f:
            daemon = int(f.read())
            with open(f"/proc/{daemon}/cmdline", "rb") as cmd:
                if root.encode() in cmd.read():  # still that daemon, not a recycled pid
                    os.kill(daemon, signal.SIGTERM)
        with contextlib.suppress(Exception):
            Engine(os.path.join(root, "containers")).shutdown()
        safefs.rmtree(root)


@contextlib.contextmanager
def private_root():
    """A throw-away ``$VMVC_ROOT`` for the whole measurement; restored and deleted afterwards (or by
    the next run, if this one is killed)."""
    from unittest import mock

    from runtime.linux import safefs

    _reap_stale(tempfile.gettempdir())
    root = tempfile.mkdtemp(prefix=PREFIX)
    os.chmod(root, 0o710)
    with open(os.path.join(root, "owner.pid"), "w") as f:
        f.write(str(os.getpid()))
    try:
        with mock.patch.dict(os.environ, {"VMVC_ROOT": root}):
            yield root
    finally:
        safefs.rmtree(root)


def measure(quick: bool = True, api: bool = True, say=None, sample=None) -> dict:
    """Every class on a private state root. ``say(text)`` hears progress; ``sample(phase, ms)`` every
    start timed for the load figure."""
    from runtime.containers import Engine
    from runtime.security import attempts, faults, hostile

    say = say or (lambda text: None)
    started = time.perf_counter()
    rows = []
    with private_root() as root:
        engine = Engine()
        try:
            from runtime.images import builtin, open_store

            builtin.init(open_store())  # built-in images are made on first use: before anything is counted
            say("escape attempts")
            tried = attempts.run(engine)
            bare = attempts.run(engine, ["seccomp=unconfined"])  # which defences hold without the filter
            only = [a["name"] for a, b in zip(tried, bare, strict=True) if a["blocked"] and not b["blocked"]]
            rows.append(_row("escape attempts", "blocked",
                             "from inside one default container (busybox + one-syscall probes): namespaces, "
                             "mounts, cgroup limits and cgroup.kill, host devices, /proc, the clock, the "
                             "keyring, bpf, 32-bit and x32 calls; blocked = the attempt's exit code says it "
                             f"failed. With seccomp=unconfined {len(tried) - len(only)} still fail: only "
                             f"{', '.join(only) or 'none'} need the filter",
                             [{"name": a["name"], "held": a["blocked"], "detail": f"{a['what']} "
                               f"(exit {a['code']})"} for a in tried]))
            rows[-1]["blocked_unconfined"] = sum(b["blocked"] for b in bare)
            say("hostile inputs through the CLI")
            with tempfile.TemporaryDirectory(prefix="vmvc-hostile-") as tmp:
                rows.append(_row("hostile inputs (CLI)", "rejected",
                                 "bad run flags and broken archives (load, import) through the real vmvc "
                                 "CLI; rejected = non-zero exit (125 for flags), one `vmvc:` line, no "
                                 "traceback, and no container, image, layer, staging file, mount or cgroup "
                                 "left", hostile.try_cli(root, tmp)))
            if api:
                say("hostile requests to the daemon's API")
                rows.append(_row("hostile requests (API)", "rejected",
                                 "malformed and unknown Docker Engine API requests to `vmvc daemon`; "
                                 "rejected = dockerd's 4xx status with a JSON message, the daemon still "
                                 "answers /_ping, nothing left", hostile.try_api(root)))
            say("faults")
            items = [faults.kill_init(engine, root), faults.fifo_passwd(engine, root),
                     faults.deep_tree(engine, root), faults.damaged_record(engine, root),
                     faults.damaged_layer(engine, root), faults.kill_spawner(engine, root)]
            say("log flood")
            flood = faults.log_flood(engine, root, starts=7 if quick else 21, sample=sample)
            items.append({k: flood[k] for k in ("name", "held", "detail")})
            rows.append(_row("faults", "survived",
                             "injected into a running engine (a killed init, a FIFO /etc/passwd, a deep "
                             "tree, a garbage record, a damaged layer, a killed spawner, a log flood); "
                             "survived = the engine kept serving (the same spawner and janitor, unless "
                             "the spawner was the target), the answer came as one line, nothing was left",
                             items))
        finally:
            engine.shutdown()
    load = {k: v for k, v in flood.items() if k not in ("name", "held", "detail")}
    rows.append({"class": "load held", "verb": "ratio", "tried": 4 * load["starts"],
                 "held": round(load["ratio"], 2), "items": [],
                 "measured": "start latency of `busybox true --rm` while a `yes` container floods its log, "
                             "divided by the latency without it (median of each; 1.0 = no slowdown); "
                             "beside it the same ratio next to a silent CPU burner, which is what a "
                             "busy core alone costs on this host",
                 "detail": flood["detail"]})
    return {"rows": rows, "load": load, "seconds": round(time.perf_counter() - started, 2)}


def summary(row: dict) -> str:
    """``26 of 26 blocked`` (or ``1.12x`` for load)."""
    if row["verb"] == "ratio":
        return f"{row['held']:.2f}x start latency"
    return f"{row['held']} of {row['tried']} {row['verb']}"


def details(row: dict) -> str:
    """What went through (if anything) and what was measured."""
    failed = [f"{i['name']}: {i['detail']}" for i in row["items"] if not i["held"]]
    if failed:
        return "NOT HELD: " + "; ".join(failed)
    return row.get("detail") or row["measured"]


def all_held(result: dict) -> bool:
    return all(r["held"] == r["tried"] for r in result["rows"] if r["verb"] != "ratio")
