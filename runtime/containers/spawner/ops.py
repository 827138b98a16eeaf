"""The spawner's requests: one method per operation a client can ask for.

``create``, ``start``, ``run`` (create + start in one round trip), ``attach``, ``wait``, ``kill``,
``stop``, ``exec``, ``ping`` and ``shutdown`` arrive as JSON frames (:mod:`runtime.containers.wire`);
on an attached connection ``{"resize": [h, w]}``, ``{"signal": s}`` and stdin frames follow. A
request that raises gets one error reply with the exception's docker exit code; it never takes the
spawner down.
"""

from __future__ import annotations

import fcntl
import os
import struct
import termios
import time

from runtime import cgroups
from runtime.containers import init, wire
from runtime.containers.create import create
from runtime.containers.spawner.stems import fork_child
from runtime.containers.spawner.supervise import open_fifos
from runtime.containers.spec import Spec
from runtime.containers.state import EXITED, RUNNING, now
from runtime.containers.trace import Trace
from runtime.rootless import host_pid, host_pid_field

# When to fork the next stem after a start (see Requests.op_start): at once within a burst of starts,
# otherwise once the container exited or REFILL_DELAY after the reply, whichever comes first.
BURST_WINDOW = 0.03
REFILL_DELAY = 0.005


def _winsize(rows: int, cols: int) -> bytes:
    return struct.pack("HHHH", rows, cols, 0, 0)


class Requests:
    def __init__(self, spawner) -> None:
        self.sp = spawner
        self.last_start = 0.0
        self.starting: set[str] = set()  # ids whose start waits for a stem or for its execve

    def on_frame(self, conn, kind: int, payload: bytes) -> None:
        sup = self.sp.sup
        if kind == wire.JSON:
            msg = wire.decode_json(payload)
            op = msg.get("op")
            if op and msg.get("v") != wire.PROTOCOL:
                self._other_version(conn, msg)
                return
            handler = getattr(self, f"op_{op}", None) if op else None
            if handler is None:
                if "resize" in msg and conn.proc is not None and conn.proc.master is not None:
                    h, w = msg["resize"]
                    fcntl.ioctl(conn.proc.master, termios.TIOCSWINSZ, _winsize(h, w))
                elif "signal" in msg and conn.proc is not None:
                    sup.signal(conn.proc, msg["signal"])
                elif op:
                    conn.reply({"error": f"unknown request {op!r}", "code": 125})
                return
            try:
                handler(conn, msg)
            except Exception as e:  # a bad request must not take the spawner down
                code = getattr(e, "exit_code", 125)
                conn.reply({"error": str(e) or type(e).__name__, "code": code, "kind": type(e).__name__})
                conn.finish()
        elif kind == wire.STDIN and conn.proc is not None:
            if payload:
                sup.write_stdin(conn, conn.proc, payload)
            else:
                sup.close_stdin(conn.proc)

    def _other_version(self, conn, msg: dict) -> None:
        """A client of another vmvc version: make way for its spawner if no container would die."""
        boxes = self.sp.sup.boxes
        if boxes:
            conn.reply(
                {
                    "error": f"a vmvc spawner of another version (pid {os.getpid()}) is running "
                    f"{len(boxes)} container(s); stop them, then retry",
                    "code": 125,
                }
            )
        else:
            conn.reply({"error": "spawner version changed", "restart": True})
            self.sp.loop.running = False
        conn.finish()

    # -- the daemon -------------------------------------------------------------------------------
    def op_ping(self, conn, msg: dict) -> None:
        janitor = self.sp.janitor.pid if self.sp.janitor is not None else 0
        running = len(self.sp.sup.boxes)
        reply = {"ok": True, "pid": host_pid(os.getpid()), "janitor": janitor, "running": running}
        conn.reply({**reply, "v": wire.PROTOCOL})
        conn.finish()

    def op_shutdown(self, conn, msg: dict) -> None:
        self.sp.shutdown_all()
        conn.reply({"ok": True, "pid": host_pid(os.getpid())})  # the caller may wait for this process to end
        conn.finish()
        self.sp.loop.running = False

    # -- create / start ---------------------------------------------------------------------------
    def _create(self, spec: dict) -> str:
        pool = self.sp.pool
        slot = pool.take_slot()
        try:
            return create(self.sp.table, Spec.from_dict(spec), self.sp.images, slot)
        finally:
            if slot and os.path.isdir(slot):  # not used (another hostname, an error): keep it
                pool.give_back_slot(slot)

    def op_create(self, conn, msg: dict) -> None:
        cid = self._create(msg["spec"])
        conn.reply({"ok": True, "id": cid})
        conn.finish()

    def op_run(self, conn, msg: dict) -> None:
        """create + start in one round trip (``vmvc run``, :meth:`Engine.run`)."""
        self.sp.mark("request")
        trace = Trace(msg.get("t0"))
        cid = self._create(msg["spec"])
        trace.mark("slot")
        self.sp.mark("created")
        self.op_start(conn, {"id": cid, "attach": msg.get("attach", True), "trace": trace})

    def op_start(self, conn, msg: dict) -> None:
        """Take a ready stem (waiting for one in the loop, never blocking it), send it the launch
        config and let the supervisor see it through to ``execve``; the reply goes out then."""
        sp, sup, pool = self.sp, self.sp.sup, self.sp.pool
        cid = msg["id"]
        if cid in sup.boxes or cid in self.starting:
            conn.reply({"ok": True, "id": cid, "not_modified": True})
            conn.finish()
            return
        rec = sp.table.load(cid)
        cfg = self._launch_config(rec.config)
        self.starting.add(cid)

        def fail(message: str) -> None:
            self.starting.discard(cid)
            conn.reply({"error": message, "code": 125, "id": cid})
            conn.finish()

        trace = msg["trace"] if isinstance(msg.get("trace"), Trace) else Trace(msg.get("t0"))
        privileged = init.privileged(cfg["process"])  # H3 (issue 10): a stem that kept every capability
        pool.get(lambda stem: self._start_on(conn, msg, rec, cfg, stem, trace), fail, privileged=privileged)

    def _start_on(self, conn, msg: dict, rec, cfg: dict, stem, trace: Trace) -> None:
        sp, sup, pool = self.sp, self.sp.sup, self.sp.pool
        trace.mark("stem")
        cid = rec.id
        limits = cgroups.Limits(**rec.config["limits"])
        failed = None
        outs = (None, None)
        try:
            sp.cg.set_limits(stem.cgroup, limits)
            if not cfg["tty"]:  # read ends first: a FIFO keeps what was written only while open
                outs = open_fifos(cid, cfg["fifos"])
            stem.ctl.setblocking(False)
            stem.ctl.send(wire.dumps(cfg).encode())
            sp.mark("config sent")
            # while the stem builds the container (on the other CPU): record it as running, fork the next stem
            sp.table.write_state(
                cid,
                {
                    **rec.state,
                    "status": RUNNING,
                    "pid": stem.pid,
                    **host_pid_field(stem.pid, stem.pidfd),  # rootless: the host's pid too
                    "pid_start": stem.start,  # tells it from a reused pid when it is adopted (recovery)
                    "cgroup": stem.cgroup,
                    "started_at": now(),
                    "exit_code": 0,
                    "oom_killed": False,
                    "error": "",
                    "trace": [],  # this start's, written with its exit
                },
            )
            burst = time.monotonic() - self.last_start < BURST_WINDOW
            self.last_start = time.monotonic()
            if burst:  # more starts are coming: keep a stem in the making while this one finishes
                pool.refill()
        except OSError as e:
            failed = {"error": f"start failed: {e}", "code": 125}

        def started(box, outcome: dict) -> None:
            self.starting.discard(cid)
            if "error" in outcome:
                conn.reply({**outcome, "id": cid})
                conn.finish()
                return
            conn.reply({"ok": True, "id": cid, "pid": stem.pid})
            sp.mark("replied")
            if pool.stem is None:  # a lone start: a short container's exit comes before the next fork
                sp.loop.quiet_until = time.monotonic() + REFILL_DELAY
            attach = list(sup.pending_attach.pop(cid, []))
            if msg.get("attach"):
                attach.append(conn)
                if rec.config.get("auto_remove"):
                    box.owner = conn  # its hang-up kills the container (Supervisor.forget)
            for c in attach:
                sup.attach(c, box)
            if not msg.get("attach"):
                conn.finish()

        sup.launched(
            cid,
            stem.pid,
            stem.pidfd,
            cfg,
            stem.ctl,
            (stem.stdin_w, *outs),
            started,
            init_of=stem.cgroup,
            failed=failed,
            trace=trace,
        )

    def _launch_config(self, config: dict) -> dict:
        d = self.sp.table.dir(config["id"])
        return {
            "rootfs": self.sp.table.mountpoint,
            "upper": os.path.join(d, "upper"),
            "work": os.path.join(d, "work"),
            "layers": config["layers"],
            "volumes": config["volumes"],
            "hostname": config["hostname"],
            "network": config["network"],
            "tty": config["tty"],
            "stdin": config["stdin"],
            "process": config["process"],
            "auto_remove": config.get("auto_remove", False),
            "log_opt": config.get("spec", {}).get("log_opt") or [],
            "fifos": [os.path.join(d, name) for name in init.FIFOS],  # its stdout and stderr
        }

    # -- running containers -----------------------------------------------------------------------
    def op_attach(self, conn, msg: dict) -> None:
        sup = self.sp.sup
        cid = msg["id"]
        box = sup.boxes.get(cid)
        if box is not None:
            conn.reply({"ok": True})
            sup.attach(conn, box)
            return
        rec = self.sp.table.load(cid)
        conn.reply({"ok": True})
        if rec.status == EXITED and not msg.get("wait_start"):
            conn.reply({"exit": rec.state.get("exit_code", 0)})
            conn.finish()
            return
        sup.pending_attach.setdefault(cid, []).append(conn)

    def op_wait(self, conn, msg: dict) -> None:
        sup = self.sp.sup
        cid = msg["id"]
        condition = msg.get("condition", "not-running")
        if cid not in sup.boxes and condition == "not-running":
            rec = self.sp.table.load(cid)
            conn.reply(
                {"exit": rec.state.get("exit_code", 0), "oom_killed": rec.state.get("oom_killed", False)}
            )
            conn.finish()
            return
        if cid not in sup.boxes:
            self.sp.table.load(cid)  # NotFound for a container that is gone (or never was)
        sup.waiters.setdefault(cid, []).append((conn, condition))
        conn.reply({"ok": True, "waiting": True})  # registered: the exit follows as {"exit": n}

    def op_kill(self, conn, msg: dict) -> None:
        sup = self.sp.sup
        box = sup.boxes.get(msg["id"])
        if box is None:
            conn.reply({"error": f"container {msg['id']} is not running", "code": 409})
        else:
            sup.signal(box, msg.get("signal", "KILL"))
            conn.reply({"ok": True})
        conn.finish()

    def op_stop(self, conn, msg: dict) -> None:
        sup = self.sp.sup
        cid = msg["id"]
        box = sup.boxes.get(cid)
        if box is None:
            conn.reply({"ok": True, "not_modified": True})
            conn.finish()
            return
        timeout = float(msg.get("timeout", 10))
        sup.waiters.setdefault(cid, []).append((conn, "not-running"))
        sup.signal(box, msg.get("signal", "TERM"))

        def escalate(box=box):
            if sup.boxes.get(box.cid) is box:
                sup.signal(box, "KILL")

        self.sp.loop.after(timeout, escalate)

    def op_exec(self, conn, msg: dict) -> None:
        sp, sup = self.sp, self.sp.sup
        box = sup.boxes.get(msg["id"])
        if box is None:
            conn.reply({"error": f"container {msg['id']} is not running", "code": 409})
            conn.finish()
            return
        base = box.cfg["process"]
        env = dict(item.partition("=")[::2] for item in base["env"] + list(msg.get("env") or []))
        cfg = {
            "network": box.cfg["network"],
            "tty": bool(msg.get("tty")),
            "stdin": bool(msg.get("stdin")),
            "process": {
                "args": msg["cmd"],
                "env": [f"{k}={v}" for k, v in env.items()],
                "cwd": msg.get("workdir") or base["cwd"],
                "user": msg.get("user") or base["user"],
                "security": base.get("security"),  # H3: the container's seccomp/privileges (issue 10)
            },
        }
        procs = sp.cg.procs_files(box.cgroup)

        def child(ctl_c, in_r, out_w, err_w):
            code = 125
            try:
                init.child_prologue(sp.sys, [ctl_c.fileno(), in_r, out_w, err_w, box.pidfd])
                init.join_container(sp.sys, ctl_c, box.pidfd, cfg, procs, in_r, out_w, err_w)
            except init.StartError as e:
                init.report(ctl_c, e)
                code = e.code
            except BaseException as e:  # unexpected: still one line for the user, never a traceback
                init.report(ctl_c, init.StartError(f"exec failed: {type(e).__name__}: {e}"))
            os._exit(code)

        pid, ctl, pipes = fork_child(sp.sys, sp.own_pidns, child, box.pidfd)

        def started(ex, outcome: dict) -> None:
            if "error" in outcome:
                conn.reply(outcome)
                conn.finish()
                return
            conn.reply({"ok": True, "pid": pid})
            sup.attach(conn, ex)

        sup.launched(box.cid, pid, os.pidfd_open(pid), cfg, ctl, pipes, started)
