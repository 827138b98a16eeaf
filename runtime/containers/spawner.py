"""The spawner: one small, single-threaded, pre-imported process that forks every container.

Why it exists. Forking a multi-threaded daemon is unsafe, and starting a Python interpreter per
container costs 10–70 ms. The spawner is started once per state root (by the first client that
needs it), imports everything a start needs, and then serves requests on a unix socket with a
``selectors`` loop: start, attach, wait, stop, kill, exec, shutdown. It is also each container's
monitor: it pumps output into the json-file log and to attached clients, reaps exits, records exit
codes and ``OOMKilled``, removes cgroups and ``--rm`` containers. Per running container it keeps a
few fds and a small object, nothing else (no shim process).

Why a start is fast. Everything that does not depend on the container is done before it is asked
for, off the critical path:

* a *stem* waits ready: a child forked in advance, born as PID 1 of a fresh PID namespace (the
  spawner ``unshare(CLONE_NEWPID)``s, forks, and ``setns``es back), already moved into a fresh
  cgroup, already in new mount/UTS/IPC/net/cgroup namespaces with ``lo`` up, capabilities bounded,
  ``no_new_privs`` set, and ``/proc``, ``/dev`` (nodes, devpts, shm) and read-only ``/sys`` with
  Docker's masked paths mounted on a private staging tmpfs. Moving a process into a cgroup takes the
  kernel's cgroup threadgroup rwsem for writing, which waits for an RCU grace period when the host
  was idle (5-20 ms here): the stem pays that before anyone waits for it;
* a *slot* waits ready: a container directory with an id, work dir and ``/etc/hostname``/``hosts``;
* the image store, JSON, ctypes and every module a start needs are imported once.

A ``run`` then costs: rename the slot into place and write ``config.json``; write the limits; send
the config to the stem, which mounts the overlay, moves the staged mounts in, ``pivot_root``s and
``execve``s; meanwhile (on the other CPU) the spawner records the container as running. The
container's exit arrives on a pidfd; output is pumped by this one loop; there is no interpreter
start and no per-container helper process.

Housekeeping waits until the caller has its answer. Forking the next stem costs the spawner
~1-2.5 ms; for a lone start it is done when the container has exited or 5 ms after the reply,
whichever is first (a ``run --rm /bin/true`` then gets its exit code that much sooner); within a
burst of starts (< 30 ms apart) it is forked during the start, so the next one finds it ready.
Removing cgroups (an RCU grace period each, 10-16 ms) and ``--rm`` directories is the janitor's
job (:mod:`runtime.containers.janitor`), a child process, so it never blocks this loop.

If the spawner dies, every container dies with it (``PR_SET_PDEATHSIG``): the next spawner takes
the lock, finds containers recorded as running, removes their cgroups and marks them exited
(:mod:`runtime.containers.recovery`).
"""

from __future__ import annotations

import fcntl
import heapq
import json
import os
import resource
import selectors
import signal
import socket
import sys
import termios
import time

from runtime import cgroups
from runtime.containers import init, recovery, wire
from runtime.containers.create import create, make_slot
from runtime.containers.janitor import Janitor
from runtime.containers.logs import LogWriter
from runtime.containers.spec import Spec
from runtime.containers.state import EXITED, RUNNING, Containers, now
from runtime.images import open_store
from runtime.linux.syscalls import CLONE_NEWPID, syscalls

IDLE_EXIT_SECONDS = 600.0
TRACE = bool(os.environ.get("VMVC_TRACE"))  # phase timings of every start/exit on stderr (spawner.log)
STEM_READY_TIMEOUT = 10.0
# When to fork the next stem after a start (see Spawner.op_start): at once within a burst of starts,
# otherwise once the container exited or REFILL_DELAY after the reply, whichever comes first.
BURST_WINDOW = 0.03
REFILL_DELAY = 0.005


def signal_number(sig) -> int:
    if isinstance(sig, int) or str(sig).isdigit():
        return int(sig)
    name = str(sig).upper()
    name = name if name.startswith("SIG") else "SIG" + name
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise ValueError(f"invalid signal: {sig}") from None


def exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


class Stem:
    """A forked child waiting, inside its own cgroup and PID namespace, to become a container."""

    def __init__(self, pid: int, ctl: socket.socket, stdin_w: int, out_r: int, err_r: int, cgroup: str):
        self.pid, self.ctl, self.stdin_w, self.out_r, self.err_r, self.cgroup = (
            pid,
            ctl,
            stdin_w,
            out_r,
            err_r,
            cgroup,
        )
        self.pidfd = os.pidfd_open(pid)
        self.ready = False


class Proc:
    """A running process the spawner watches: a container's init or an exec'd process."""

    def __init__(
        self,
        cid: str,
        pid: int,
        pidfd: int,
        cfg: dict,
        outs: dict[int, int],
        stdin_w: int | None,
        master: int | None,
    ) -> None:
        self.cid, self.pid, self.pidfd, self.cfg = cid, pid, pidfd, cfg
        self.outs = outs  # fd -> stream kind (wire.STDOUT / wire.STDERR)
        self.stdin_w = stdin_w
        self.master = master  # pty master (tty mode)
        self.attached: set[Conn] = set()
        self.log: LogWriter | None = None
        self.cgroup = ""
        self.kill_at = None

    def close_stdin(self) -> None:
        if self.stdin_w is not None:
            os.close(self.stdin_w)
            self.stdin_w = None

    def write_stdin(self, data: bytes) -> None:
        fd = self.master if self.master is not None else self.stdin_w
        if fd is None:
            return
        try:
            os.set_blocking(fd, True)
            os.write(fd, data)
        except OSError:
            pass
        finally:
            os.set_blocking(fd, False)


class Conn:
    """One client connection: requests in, replies and stream frames out (non-blocking)."""

    def __init__(self, spawner: Spawner, sock: socket.socket) -> None:
        self.spawner, self.sock = spawner, sock
        sock.setblocking(False)
        self.decoder = wire.Decoder()
        self.out = bytearray()
        self.closing = False
        self.closed = False
        self.proc: Proc | None = None  # what this connection's stdin frames go to

    def send(self, data: bytes) -> None:
        if self.closed:
            return
        self.out += data
        self.flush()

    def reply(self, obj: dict) -> None:
        self.send(wire.message(obj))

    def finish(self) -> None:
        """Close once everything queued has been sent."""
        self.closing = True
        self.flush()

    def flush(self) -> None:
        while self.out and not self.closed:
            try:
                n = self.sock.send(self.out)
            except BlockingIOError:
                break
            except OSError:
                self.close()
                return
            del self.out[:n]
        if self.closed:
            return
        if not self.out and self.closing:
            self.close()
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if self.out else 0)
        self.spawner.sel.modify(self.sock, events, self.on_event)

    def on_event(self, mask: int) -> None:
        if mask & selectors.EVENT_WRITE:
            self.flush()
        if mask & selectors.EVENT_READ and not self.closed:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self.close()
                return
            for kind, payload in self.decoder.feed(data):
                self.spawner.on_frame(self, kind, payload)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.spawner.forget(self)
        try:
            self.spawner.sel.unregister(self.sock)
        except (KeyError, ValueError):
            pass
        self.sock.close()


class Spawner:
    def __init__(self, root: str) -> None:
        self.table = Containers(root)
        self.sys = syscalls()
        self.cg = cgroups.manager()
        self.images = open_store(self.table.images_root)
        self.sel = selectors.DefaultSelector()
        self.prefix = self.table.cgroup_prefix()
        self.own_pidns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        self.host_netns = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        self.boxes: dict[str, Proc] = {}  # container id -> its init
        self.execs: dict[int, Proc] = {}  # pidfd -> exec'd process
        self.waiters: dict[str, list[tuple[Conn, str]]] = {}
        self.pending_attach: dict[str, list[Conn]] = {}
        self.conns: set[Conn] = set()
        self.timers: list[tuple[float, int, object]] = []
        self.stem: Stem | None = None
        self.slot: str | None = None  # a container directory made ahead (create.make_slot)
        self.deferred: list = []  # cleanup to do when idle (after replies went out)
        self.janitor: Janitor | None = None  # removes dead containers' cgroups and directories
        self.running = True
        self.last_activity = time.monotonic()
        self._seq = 0
        self.marks: list[tuple[str, float]] = []
        self.quiet_after = 0.0  # monotonic time before which idle work waits (see _idle_work)
        self.last_start = 0.0

    # -- lifetime ---------------------------------------------------------------------------------
    def serve(self, ready_fd: int | None = None) -> None:
        lock = self._lock()
        if lock is None:
            return  # another spawner owns this root
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # raise soft up to hard, never above
        for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, self._on_sigterm)
        recovery.recover(self.table, self.cg)
        self.janitor = Janitor(self.cg, init.keep_fds)
        path = self.table.socket_path
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        os.chmod(path, 0o600)
        listener.listen(128)
        listener.setblocking(False)
        self.sel.register(listener, selectors.EVENT_READ, lambda mask: self._accept(listener))
        try:
            self._fork_stem()
            if ready_fd is not None:
                os.write(ready_fd, b"ok")
                os.close(ready_fd)
            self._loop()
        finally:
            self.sel.unregister(listener)
            listener.close()
            self._shutdown_all()
            for conn in list(self.conns):
                conn.close()
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            os.close(lock)

    def _lock(self, seconds: float = 10.0) -> int | None:
        """Take the root's lock; None if a live spawner has it. (A client recovering after a crash
        holds it briefly: wait for that.)"""
        fd = os.open(self.table.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        deadline = time.monotonic() + seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                pass
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(self.table.socket_path)
                alive = True
            except OSError:
                alive = False
            finally:
                probe.close()
            if alive or time.monotonic() > deadline:
                os.close(fd)
                return None
            time.sleep(0.01)

    def _on_sigterm(self, *_):
        self.running = False

    def _loop(self) -> None:
        while self.running:
            timeout = 1.0
            if self.timers:
                timeout = max(0.0, min(timeout, self.timers[0][0] - time.monotonic()))
            if self.stem is None or self.slot is None or self.deferred:
                timeout = max(0.0, min(timeout, self.quiet_after - time.monotonic()))
            events = self.sel.select(timeout)
            for key, mask in events:
                key.data(mask)
            self._run_timers()
            if not events:
                self._idle_work()
            if self.boxes or self.conns or self.execs:
                self.last_activity = time.monotonic()
            elif time.monotonic() - self.last_activity > IDLE_EXIT_SECONDS:
                self.running = False

    def _idle_work(self) -> None:
        """Work off the critical path, one piece per idle moment: a new stem first, then cleanup --
        not within ``REFILL_DELAY`` of a start, whose exit (if it is short) comes first."""
        if time.monotonic() < self.quiet_after:
            return
        if self.stem is None:
            self._fork_stem()
        elif self.slot is None:
            self.slot = make_slot(self.table)
        elif self.deferred:
            self._run_deferred(once=True)

    def _run_deferred(self, once: bool) -> None:
        """Deferred cleanup: one piece per idle moment, or all of it on the way out."""
        while self.deferred:
            fn = self.deferred.pop(0)
            try:
                fn()
            except OSError as e:
                print(f"spawner: cleanup failed: {e}", file=sys.stderr, flush=True)
            if once:
                return

    def _run_timers(self) -> None:
        t = time.monotonic()
        while self.timers and self.timers[0][0] <= t:
            _, _, fn = heapq.heappop(self.timers)
            fn()

    def after(self, seconds: float, fn) -> None:
        self._seq += 1
        heapq.heappush(self.timers, (time.monotonic() + seconds, self._seq, fn))

    def _accept(self, listener: socket.socket) -> None:
        try:
            sock, _ = listener.accept()
        except BlockingIOError:
            return
        conn = Conn(self, sock)
        self.conns.add(conn)
        self.sel.register(sock, selectors.EVENT_READ, conn.on_event)

    def forget(self, conn: Conn) -> None:
        self.conns.discard(conn)
        for box in [*self.boxes.values(), *self.execs.values()]:
            box.attached.discard(conn)
        for lst in self.pending_attach.values():
            if conn in lst:
                lst.remove(conn)
        for cid, lst in self.waiters.items():
            self.waiters[cid] = [w for w in lst if w[0] is not conn]

    def _shutdown_all(self) -> None:
        """Kill every container (recording its exit), drop the stem, finish cleanup."""
        for box in list(self.boxes.values()):
            try:
                signal.pidfd_send_signal(box.pidfd, signal.SIGKILL)
            except OSError:
                pass
            self._on_exit(box)
        for ex in list(self.execs.values()):
            self._on_exec_exit(ex)
        self._discard_stem()
        if self.slot:
            self.table.purge(self.slot)
            self.slot = None
        self._run_deferred(once=False)
        if self.janitor is not None:
            self.janitor.close()  # its queue done: nothing is left behind once the spawner is gone

    # -- stems ------------------------------------------------------------------------------------
    def _fork_stem(self) -> None:
        self.mark("stem fork")
        name = self.prefix + os.urandom(6).hex()
        pid, ctl, (in_w, out_r, err_r) = self._fork_child(
            lambda ctl_c, in_r, out_w, err_w: self._stem_main(ctl_c, in_r, out_w, err_w, name), None
        )
        self.stem = Stem(pid, ctl, in_w, out_r, err_r, name)

    def _fork_child(self, child, pidns: int | None):
        """Fork ``child(ctl, stdin_r, stdout_w, stderr_w)`` (which must not return) as PID 1 of a new PID
        namespace (``pidns`` None) or into the PID namespace of pidfd ``pidns``; the spawner's own
        namespace for later children is restored at once. Returns (pid, ctl, parent pipe ends)."""
        ctl, ctl_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        if pidns is None:
            self.sys.unshare(CLONE_NEWPID)
        else:
            self.sys.setns(pidns, CLONE_NEWPID)
        try:
            pid = os.fork()
        except BaseException:
            self.sys.setns(self.own_pidns, CLONE_NEWPID)
            raise
        if pid == 0:
            try:
                child(ctl_child, in_r, out_w, err_w)
            finally:
                os._exit(125)
        self.sys.setns(self.own_pidns, CLONE_NEWPID)
        for fd in (in_r, out_w, err_w):
            os.close(fd)
        ctl_child.close()
        return pid, ctl, (in_w, out_r, err_r)

    def _stem_main(self, ctl: socket.socket, in_r: int, out_w: int, err_w: int, cgroup: str) -> None:
        """In the stem (PID 1 of its namespace). Never returns. It makes its own cgroup (the mkdirs
        cost the spawner ~0.5 ms) and joins it; whoever discards the stem removes the cgroup."""
        code, started = 125, False
        try:
            init.child_prologue(self.sys, [ctl.fileno(), in_r, out_w, err_w, self.host_netns])
            self.cg.create(cgroup)
            for path in self.cg.procs_files(cgroup):
                with open(path, "w") as f:
                    f.write("0")
            init.prepare(self.sys, self.table.mountpoint)
            ctl.send(b"R")
            data = ctl.recv(1 << 20)
            if not data:
                os._exit(0)
            cfg = json.loads(data)
            started = True
            try:
                init.start_container(self.sys, ctl, cfg, in_r, out_w, err_w, self.host_netns)
            except init.StartError as e:
                init.report(ctl, e)
                code = e.code
        except BaseException as e:  # unexpected: still one line for the user, never a traceback
            if started:
                init.report(ctl, init.StartError(f"container init failed: {type(e).__name__}: {e}"))
        os._exit(code)

    def _refill(self) -> None:
        try:
            self._fork_stem()
        except OSError as e:  # try again when idle
            print(f"spawner: could not fork a stem: {e}", file=sys.stderr, flush=True)

    def _take_stem(self) -> Stem:
        for _ in range(2):
            if self.stem is None:
                self._fork_stem()
            stem = self.stem
            if stem.ready:
                return stem
            stem.ctl.settimeout(STEM_READY_TIMEOUT)
            try:
                if stem.ctl.recv(16) == b"R":
                    stem.ready = True
                    return stem
            except OSError:
                pass
            self._discard_stem()
        raise OSError("the spawner could not prepare a process for the container")

    def _discard_stem(self) -> None:
        stem, self.stem = self.stem, None
        if stem is None:
            return
        try:
            signal.pidfd_send_signal(stem.pidfd, signal.SIGKILL)
        except OSError:
            pass
        os.waitpid(stem.pid, 0)
        for fd in (stem.pidfd, stem.stdin_w, stem.out_r, stem.err_r):
            os.close(fd)
        stem.ctl.close()
        self.cg.remove(stem.cgroup)

    # -- requests ---------------------------------------------------------------------------------
    def on_frame(self, conn: Conn, kind: int, payload: bytes) -> None:
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
                    self._signal(conn.proc, msg["signal"])
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
                conn.proc.write_stdin(payload)
            else:
                conn.proc.close_stdin()

    def _other_version(self, conn: Conn, msg: dict) -> None:
        """A client of another vmvc version: make way for its spawner if no container would die."""
        if self.boxes:
            conn.reply(
                {
                    "error": f"a vmvc spawner of another version (pid {os.getpid()}) is running "
                    f"{len(self.boxes)} container(s); stop them, then retry",
                    "code": 125,
                }
            )
        else:
            conn.reply({"error": "spawner version changed", "restart": True})
            self.running = False
        conn.finish()

    def op_ping(self, conn: Conn, msg: dict) -> None:
        janitor = self.janitor.pid if self.janitor is not None else 0
        running = len(self.boxes)
        reply = {"ok": True, "pid": os.getpid(), "janitor": janitor, "running": running}
        conn.reply({**reply, "v": wire.PROTOCOL})
        conn.finish()

    def op_shutdown(self, conn: Conn, msg: dict) -> None:
        self._shutdown_all()
        conn.reply({"ok": True, "pid": os.getpid()})  # the caller may wait for this process to end
        conn.finish()
        self.running = False

    def _create(self, spec: dict) -> str:
        slot, self.slot = self.slot, None
        try:
            return create(self.table, Spec.from_dict(spec), self.images, slot)
        finally:
            if slot and os.path.isdir(slot):  # not used (another hostname, an error): keep it
                self.slot = slot

    def op_create(self, conn: Conn, msg: dict) -> None:
        cid = self._create(msg["spec"])
        conn.reply({"ok": True, "id": cid})
        conn.finish()

    def mark(self, what: str) -> None:
        if TRACE:
            self.marks.append((what, time.perf_counter()))
            if what in ("replied", "exit handled"):
                t0 = self.marks[0][1]
                print(
                    " ".join(f"{w}={1000 * (t - t0):.2f}" for w, t in self.marks), file=sys.stderr, flush=True
                )
                self.marks = []

    def op_run(self, conn: Conn, msg: dict) -> None:
        """create + start in one round trip (``vmvc run``, :meth:`Engine.run`)."""
        self.mark("request")
        cid = self._create(msg["spec"])
        self.mark("created")
        self.op_start(conn, {"id": cid, "attach": msg.get("attach", True)})

    def op_start(self, conn: Conn, msg: dict) -> None:
        cid = msg["id"]
        if cid in self.boxes:
            conn.reply({"ok": True, "id": cid, "not_modified": True})
            conn.finish()
            return
        rec = self.table.load(cid)
        cfg = self._launch_config(rec.config)
        stem = self._take_stem()
        self.stem = None
        limits = cgroups.Limits(**rec.config["limits"])
        outcome, master = {}, None
        try:
            self.cg.set_limits(stem.cgroup, limits)
            stem.ctl.settimeout(None)
            stem.ctl.send(json.dumps(cfg).encode())
            self.mark("config sent")
            # while the stem builds the container (on the other CPU): record it as running, fork the next stem
            self.table.write_state(
                cid,
                {
                    **rec.state,
                    "status": RUNNING,
                    "pid": stem.pid,
                    "cgroup": stem.cgroup,
                    "started_at": now(),
                    "exit_code": 0,
                    "oom_killed": False,
                    "error": "",
                },
            )
            burst = time.monotonic() - self.last_start < BURST_WINDOW
            self.last_start = time.monotonic()
            if burst:  # more starts are coming: keep a stem in the making while this one finishes
                self._refill()
            outcome, master = _outcome(stem.ctl)
            self.mark("exec done")
        except OSError as e:
            outcome = {"error": f"start failed: {e}", "code": 125}
        stem.ctl.close()
        box = Proc(
            cid,
            stem.pid,
            stem.pidfd,
            cfg,
            {stem.out_r: wire.STDOUT, stem.err_r: wire.STDERR},
            stem.stdin_w if cfg["stdin"] else None,
            master,
        )
        box.cgroup = stem.cgroup
        if not cfg["stdin"]:
            os.close(stem.stdin_w)
        if master is not None:
            for fd in box.outs:
                os.close(fd)
            box.outs = {master: wire.STDOUT}
        box.log = LogWriter(self.table.log_path(cid))
        self.boxes[cid] = box
        if "error" in outcome:
            self._on_exit(box, error=outcome)
            conn.reply({**outcome, "id": cid})
            conn.finish()
        else:
            for fd in box.outs:
                os.set_blocking(fd, False)
                self.sel.register(fd, selectors.EVENT_READ, lambda mask, fd=fd, b=box: self._on_output(b, fd))
            self.sel.register(box.pidfd, selectors.EVENT_READ, lambda mask, b=box: self._on_exit(b))
            conn.reply({"ok": True, "id": cid, "pid": stem.pid})
            self.mark("replied")
            if self.stem is None:  # a lone start: a short container's exit comes before the next fork
                self.quiet_after = time.monotonic() + REFILL_DELAY
            attach = list(self.pending_attach.pop(cid, []))
            if msg.get("attach"):
                attach.append(conn)
            for c in attach:
                self._attach(c, box)
            if not msg.get("attach"):
                conn.finish()

    def _launch_config(self, config: dict) -> dict:
        d = self.table.dir(config["id"])
        return {
            "rootfs": self.table.mountpoint,
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
        }

    def _attach(self, conn: Conn, proc: Proc) -> None:
        proc.attached.add(conn)
        conn.proc = proc

    def op_attach(self, conn: Conn, msg: dict) -> None:
        cid = msg["id"]
        box = self.boxes.get(cid)
        if box is not None:
            conn.reply({"ok": True})
            self._attach(conn, box)
            return
        rec = self.table.load(cid)
        conn.reply({"ok": True})
        if rec.status == EXITED and not msg.get("wait_start"):
            conn.reply({"exit": rec.state.get("exit_code", 0)})
            conn.finish()
            return
        self.pending_attach.setdefault(cid, []).append(conn)

    def op_wait(self, conn: Conn, msg: dict) -> None:
        cid = msg["id"]
        condition = msg.get("condition", "not-running")
        if cid not in self.boxes and condition == "not-running":
            rec = self.table.load(cid)
            conn.reply(
                {"exit": rec.state.get("exit_code", 0), "oom_killed": rec.state.get("oom_killed", False)}
            )
            conn.finish()
            return
        if cid not in self.boxes:
            self.table.load(cid)  # NotFound for a container that is gone (or never was)
        self.waiters.setdefault(cid, []).append((conn, condition))
        conn.reply({"ok": True, "waiting": True})  # registered: the exit follows as {"exit": n}

    def _signal(self, proc: Proc, sig) -> None:
        try:
            signal.pidfd_send_signal(proc.pidfd, signal_number(sig))
        except ProcessLookupError:
            pass

    def op_kill(self, conn: Conn, msg: dict) -> None:
        box = self.boxes.get(msg["id"])
        if box is None:
            conn.reply({"error": f"container {msg['id']} is not running", "code": 409})
        else:
            self._signal(box, msg.get("signal", "KILL"))
            conn.reply({"ok": True})
        conn.finish()

    def op_stop(self, conn: Conn, msg: dict) -> None:
        cid = msg["id"]
        box = self.boxes.get(cid)
        if box is None:
            conn.reply({"ok": True, "not_modified": True})
            conn.finish()
            return
        timeout = float(msg.get("timeout", 10))
        self.waiters.setdefault(cid, []).append((conn, "not-running"))
        self._signal(box, msg.get("signal", "TERM"))

        def escalate(box=box):
            if box.cid in self.boxes and self.boxes[box.cid] is box:
                self._signal(box, signal.SIGKILL)

        self.after(timeout, escalate)

    def op_exec(self, conn: Conn, msg: dict) -> None:
        box = self.boxes.get(msg["id"])
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
            },
        }
        procs = self.cg.procs_files(box.cgroup)

        def child(ctl_c, in_r, out_w, err_w):
            code = 125
            try:
                init.child_prologue(self.sys, [ctl_c.fileno(), in_r, out_w, err_w, box.pidfd])
                init.join_container(self.sys, ctl_c, box.pidfd, cfg, procs, in_r, out_w, err_w)
            except init.StartError as e:
                init.report(ctl_c, e)
                code = e.code
            except BaseException as e:  # unexpected: still one line for the user, never a traceback
                init.report(ctl_c, init.StartError(f"exec failed: {type(e).__name__}: {e}"))
            os._exit(code)

        pid, ctl, (in_w, out_r, err_r) = self._fork_child(child, box.pidfd)
        outcome, master = _outcome(ctl)
        ctl.close()
        ex = Proc(
            box.cid,
            pid,
            os.pidfd_open(pid),
            cfg,
            {out_r: wire.STDOUT, err_r: wire.STDERR},
            in_w if cfg["stdin"] else None,
            master,
        )
        if not cfg["stdin"]:
            os.close(in_w)
        if master is not None:
            os.close(out_r)
            os.close(err_r)
            ex.outs = {master: wire.STDOUT}
        if "error" in outcome:
            self.execs[ex.pidfd] = ex
            self._on_exec_exit(ex)
            conn.reply(outcome)
            conn.finish()
            return
        self.execs[ex.pidfd] = ex
        for fd in ex.outs:
            os.set_blocking(fd, False)
            self.sel.register(fd, selectors.EVENT_READ, lambda mask, fd=fd, p=ex: self._on_output(p, fd))
        self.sel.register(ex.pidfd, selectors.EVENT_READ, lambda mask, p=ex: self._on_exec_exit(p))
        conn.reply({"ok": True, "pid": pid})
        self._attach(conn, ex)

    # -- output and exits -------------------------------------------------------------------------
    def _on_output(self, proc: Proc, fd: int) -> bool:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return True
        except OSError:  # EIO: the pty's last slave closed
            data = b""
        if not data:
            self.sel.unregister(fd)
            os.close(fd)
            del proc.outs[fd]
            if fd == proc.master:
                proc.master = None
            return False
        kind = proc.outs[fd]
        if proc.log is not None:
            proc.log.write("stdout" if kind == wire.STDOUT else "stderr", data)
        frame = wire.frame(kind, data)
        for conn in list(proc.attached):
            conn.send(frame)
        return True

    def _drain(self, proc: Proc) -> None:
        """Read what the dead process left in its pipes; everything that could write is gone."""
        for fd in list(proc.outs):
            os.set_blocking(fd, False)
            while True:
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    data = None
                except OSError:
                    data = b""
                if data is None:
                    break  # nothing buffered and a writer might linger: do not block the loop
                if not data:
                    break
                kind = proc.outs[fd]
                if proc.log is not None:
                    proc.log.write("stdout" if kind == wire.STDOUT else "stderr", data)
                for conn in list(proc.attached):
                    conn.send(wire.frame(kind, data))
            try:
                self.sel.unregister(fd)
            except KeyError:
                pass
            os.close(fd)
        proc.outs.clear()
        proc.close_stdin()
        if proc.master is not None:
            proc.master = None

    def _reap(self, proc: Proc) -> int:
        try:
            self.sel.unregister(proc.pidfd)
        except (KeyError, ValueError):
            pass
        try:
            _, status = os.waitpid(proc.pid, 0)
            code = exit_code(status)
        except ChildProcessError:
            code = 137
        os.close(proc.pidfd)
        return code

    def _on_exit(self, box: Proc, error: dict | None = None) -> None:
        self.mark("exit seen")
        self.quiet_after = 0.0  # its client is answered below: idle work (the next stem) may go
        # exec'd processes first: they are our children inside the container's PID namespace, and its
        # init cannot finish dying (so waitpid on it would block) until every one of them is reaped
        for ex in [e for e in self.execs.values() if e.cid == box.cid]:
            self._on_exec_exit(ex)
        code = self._reap(box)
        self._drain(box)
        if box.log is not None:
            box.log.close()
        oom = self.cg.oom_killed(box.cgroup)
        self._remove_cgroup(box.cgroup)
        if error:
            code = error.get("code", 125)
        if oom and not error:
            code = 137
        self.boxes.pop(box.cid, None)
        cid = box.cid
        auto_remove = box.cfg.get("auto_remove")
        if auto_remove:
            trash = self.table.forget(cid)  # gone from every listing now; files deleted when idle
            if trash:
                self._purge(trash)
        else:
            try:
                state = self.table.load(cid).state
                self.table.write_state(
                    cid,
                    {
                        **state,
                        "status": EXITED,
                        "pid": 0,
                        "exit_code": code,
                        "oom_killed": oom,
                        "finished_at": now(),
                        "error": (error or {}).get("error", ""),
                    },
                )
            except Exception as e:
                print(f"spawner: could not record the exit of {cid}: {e}", file=sys.stderr, flush=True)
        for conn in list(box.attached):
            conn.reply({"exit": code, "oom_killed": oom})
            conn.finish()
        self.mark("exit handled")
        for conn, _ in self.waiters.pop(cid, []):
            conn.reply({"exit": code, "oom_killed": oom})
            conn.finish()
        for conn in self.pending_attach.pop(cid, []):
            conn.reply({"exit": code})
            conn.finish()

    def _remove_cgroup(self, name: str) -> None:
        if self.janitor is not None:
            self.janitor.remove_cgroup(name)
        else:
            self.deferred.append(lambda: self.cg.remove(name))

    def _purge(self, trash: str) -> None:
        if self.janitor is not None:
            self.janitor.purge(trash)
        else:
            self.deferred.append(lambda: self.table.purge(trash))

    def _on_exec_exit(self, ex: Proc) -> None:
        code = self._reap(ex)
        self._drain(ex)
        self.execs.pop(ex.pidfd, None)
        for conn in list(ex.attached):
            conn.reply({"exit": code})
            conn.finish()


def _outcome(ctl: socket.socket) -> tuple[dict, int | None]:
    """Wait until a child has ``execve``d (EOF: its close-on-exec end closed) or reported an error;
    a tty child sends its pty master on the way."""
    outcome, master = {}, None
    while True:
        data, fds, _, _ = socket.recv_fds(ctl, 65536, 1)
        if fds:
            master = fds[0]
        if not data:
            return outcome, master
        if data != b"P":
            outcome = json.loads(data)


def _winsize(rows: int, cols: int) -> bytes:
    import struct

    return struct.pack("HHHH", rows, cols, 0, 0)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ready = int(argv[1]) if len(argv) > 1 else None
    Spawner(argv[0]).serve(ready)
    return 0


if __name__ == "__main__":
    sys.exit(main())
