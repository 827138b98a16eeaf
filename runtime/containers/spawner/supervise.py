"""Output and exit supervision: what the spawner does for a process from its launch to its exit.

A container's init and an ``exec``'d process are supervised alike (:meth:`Supervisor.launched`, the
one helper both ``start`` and ``exec`` end in): the child's report (``execve`` done, or an error)
arrives on its control socket *in the loop*, so a child that hangs before ``execve`` (a hung mount,
a FIFO where a file should be) costs nobody else anything and is killed after ``START_TIMEOUT``.
Then its output pipes (or pty master) and its pidfd are watched. Output goes to the json-file log
(:mod:`runtime.containers.logs`, containers only) and to every attached client; stdin from a client
is queued and written as the process reads it.

Output cannot starve the loop: each wakeup reads at most one 64 KiB chunk per pipe (so containers
take turns), output events do not hold back idle work (:mod:`.loop`), and each process has a budget
of ``OUTPUT_RATE`` bytes per second (bursts of ``OUTPUT_BURST``) -- past it, or while an attached
client has ``CLIENT_BACKLOG`` unsent, its pipes are not read for a moment, so a flooding container
blocks in ``write`` (as under docker's default blocking log mode) instead of taking the spawner's CPU.

The exit is reaped through the pidfd, recorded (exit code, ``OOMKilled``, the start's trace) and
sent to whoever waits. Per running process the spawner keeps a few fds and one :class:`Proc`.

A container's stdout and stderr are FIFOs in its directory (:func:`runtime.containers.init.open_fifos`),
which the spawner opens by path (:func:`open_fifos`), so that the container can outlive the spawner
(live restore): the next spawner *adopts* it (:meth:`Supervisor.adopt`, called by
:mod:`runtime.containers.recovery`) -- opens the FIFOs again, appends to the same log, watches a
pidfd -- and from then on it is supervised like any other, except that it is not this spawner's
child: its exit code is the one the keeper recorded when it reaped it (:mod:`runtime.containers.keeper`).
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import stat
import sys
import time

from runtime.containers import keeper, recovery, wire
from runtime.containers import trace as tracing
from runtime.containers.logs import LogWriter, parse_opts
from runtime.containers.signals import exit_code, signal_number
from runtime.containers.spawner.loop import READ, WRITE
from runtime.containers.state import EXITED, now

STDIN_BUFFER = 256 * 1024  # stdin bytes held for a process that does not read; its client then waits
START_TIMEOUT = float(os.environ.get("VMVC_START_TIMEOUT", 60))  # from launch to execve
REAP_WAIT = 5.0  # how long an exit handling waits for a process it killed (one stuck in the kernel)
OUTPUT_RATE = float(os.environ.get("VMVC_OUTPUT_RATE", 16 << 20))  # bytes/s read from one process
OUTPUT_BURST = 1 << 20
LOST_CODE = ("its exit code was lost: the engine's keeper was killed too, so the host's init reaped it "
             "(a container outlives a dead keeper, its exit code does not)")
CLIENT_BACKLOG = 4 << 20  # bytes queued for an attached client before its process's output waits


class Proc:
    """A process the spawner watches: a container's init or an exec'd process, from its launch
    (``ctl`` open, waiting for ``execve``) to its reaped exit."""

    def __init__(self, cid: str, pid: int, pidfd: int, cfg: dict, outs: dict[int, int]) -> None:
        self.cid, self.pid, self.pidfd, self.cfg = cid, pid, pidfd, cfg
        self.outs = outs  # fd -> stream kind (wire.STDOUT / wire.STDERR)
        self.stdin_w: int | None = None
        self.master: int | None = None  # pty master (tty mode)
        self.attached: set = set()  # Conns that get its output and exit
        self.log: LogWriter | None = None
        self.cgroup = ""
        self.ctl: socket.socket | None = None  # open until the child has exec'd or failed
        self.outcome: dict = {}  # what the child reported ({"error", "code"} if it failed)
        self.done = None  # called once with (proc, outcome) when the launch is decided
        self.reaped = False
        self.inbuf = bytearray()  # stdin not yet taken by the process
        self.stdin_eof = False  # close stdin once inbuf is written
        self.paused: set = set()  # clients whose stdin waits for inbuf to drain
        self.owner = None  # the client of a foreground ``run --rm``: its hang-up kills the container
        self.trace: tracing.Trace | None = None  # a container's start, step by step
        self.tokens = float(OUTPUT_BURST)  # output budget (bytes), refilled at OUTPUT_RATE
        self.refilled = 0.0
        self.out_paused = False  # its output is not read until a timer resumes it
        self.adopted = False  # a container a previous spawner started: the keeper reaps it
        self.start = 0  # its start time (``/proc/PID/stat``): the keeper's exit file is named by it
        self.code: int | None = None  # an adopted container's exit code, once the keeper has it
        self.killed = False  # SIGKILL sent: its code is 137 even if no keeper recorded it
        self.reap_by = 0.0  # how long to wait for the keeper to reap it

    @property
    def stdin_fd(self) -> int | None:
        return self.master if self.master is not None else self.stdin_w

    def close_stdin(self) -> None:
        if self.stdin_w is not None:
            os.close(self.stdin_w)
            self.stdin_w = None


class Supervisor:
    """Every supervised process of one spawner, and who waits for which."""

    def __init__(self, spawner) -> None:
        self.sp = spawner
        self.boxes: dict[str, Proc] = {}  # container id -> its init
        self.execs: dict[int, Proc] = {}  # pidfd -> exec'd process
        self.waiters: dict[str, list[tuple[object, str]]] = {}  # cid -> [(conn, condition)]
        self.pending_attach: dict[str, list] = {}  # cid -> conns attached before the start

    # -- from launch to exec ----------------------------------------------------------------------
    def launched(
        self,
        cid: str,
        pid: int,
        pidfd: int,
        cfg: dict,
        ctl: socket.socket,
        pipes: tuple,
        done,
        init_of: str = "",
        failed: dict | None = None,
        trace: tracing.Trace | None = None,
    ) -> Proc:
        """The shared end of ``start`` and ``exec``: supervise the child from now on, and call
        ``done(proc, outcome)`` once it has ``execve``d (``outcome`` empty) or failed (``{"error",
        "code"}``, after its exit was handled; ``failed`` if it failed before it was sent anything).
        Nothing here blocks: the child's report arrives on ``ctl`` in the loop, and a child that has
        neither exec'd nor failed after ``START_TIMEOUT`` is killed and reported as failed.
        ``pipes`` are the parent ends (stdin_w, stdout_r, stderr_r); ``init_of`` is the cgroup of a
        container's init ("" for an exec)."""
        in_w, out_r, err_r = pipes
        outs = {fd: kind for fd, kind in ((out_r, wire.STDOUT), (err_r, wire.STDERR)) if fd is not None}
        proc = Proc(cid, pid, pidfd, cfg, outs)
        if cfg["stdin"]:
            proc.stdin_w = in_w
            os.set_blocking(in_w, False)
        else:
            os.close(in_w)
        proc.done = done
        proc.trace = trace
        loop = self.sp.loop
        if init_of:
            proc.cgroup = init_of
            proc.log = LogWriter(self.sp.table.log_path(cid), *parse_opts(cfg.get("log_opt")))
            self.boxes[cid] = proc
        else:
            self.execs[pidfd] = proc
        loop.watch(pidfd, lambda mask: self._exited(proc))
        if failed:
            proc.outcome = failed
            ctl.close()
            self._kill(proc)
            return proc
        proc.ctl = ctl
        ctl.setblocking(False)
        loop.watch(ctl, lambda mask: self._on_ctl(proc))
        loop.after(START_TIMEOUT, lambda: self._launch_timeout(proc))
        return proc

    def _on_ctl(self, proc: Proc) -> None:
        """The child's control socket: ``P`` with a pty master, an error report, or EOF (``execve``
        closed its close-on-exec end, or it died)."""
        while proc.ctl is not None:
            try:
                data, fds, _, _ = socket.recv_fds(proc.ctl, 65536, 1)
            except BlockingIOError:
                return
            except OSError as e:
                data, fds = b"", []
                proc.outcome = proc.outcome or {"error": f"start failed: {e}", "code": 125}
            for fd in fds:
                if proc.master is None:
                    proc.master = fd
                else:
                    os.close(fd)
            if not data:
                self._launch_decided(proc)
                return
            if data.startswith(tracing.TAG):
                if proc.trace is not None:
                    proc.trace.add(tracing.parse(data))
            elif data != b"P":
                try:
                    proc.outcome = json.loads(data)
                except ValueError:
                    proc.outcome = {"error": "start failed: a garbled report from the container", "code": 125}

    def _launch_decided(self, proc: Proc) -> None:
        loop = self.sp.loop
        loop.unwatch(proc.ctl)
        proc.ctl.close()
        proc.ctl = None
        if proc.master is not None:
            for fd in proc.outs:
                os.close(fd)
            proc.outs = {proc.master: wire.STDOUT}
        if "error" in proc.outcome:
            self._kill(proc)  # it exits by itself after its report; its exit handling calls done
            return
        self.sp.mark("exec done")
        if proc.trace is not None:
            proc.trace.mark("running")
        proc.refilled = time.monotonic()
        for fd in proc.outs:
            os.set_blocking(fd, False)
            self._watch_fd(proc, fd)
        done, proc.done = proc.done, None
        done(proc, {})

    def adopt(self, rec, pidfd: int, start: int) -> Proc:
        """Supervise a container a previous spawner started, as if it had just exec'd: its pidfd in the
        loop, its FIFOs read, its json-file log appended to (a line the dead spawner left half-written
        is ended first, so readers skip it alone). Called by recovery, which checked it is the same
        process (``start``) in the same cgroup. What was attached to it (clients, ``exec`` sessions, a
        pending ``stop`` timer) died with that spawner; a ``-t`` container's pty did too."""
        cfg = self.sp.ops._launch_config(rec.config)
        proc = Proc(rec.id, rec.state["pid"], pidfd, cfg, {})
        proc.adopted, proc.start = True, start
        proc.cgroup = rec.state.get("cgroup") or ""
        log = self.sp.table.log_path(rec.id)
        _end_torn_line(log)
        proc.log = LogWriter(log, *parse_opts(cfg.get("log_opt")))
        self.boxes[rec.id] = proc
        if not cfg.get("tty"):
            out, err = open_fifos(rec.id, cfg["fifos"])
            proc.outs = {fd: kind for fd, kind in ((out, wire.STDOUT), (err, wire.STDERR)) if fd is not None}
        proc.refilled = time.monotonic()
        for fd in proc.outs:
            self._watch_fd(proc, fd)
        self.sp.loop.watch(pidfd, lambda mask: self._exited(proc))
        return proc

    def _launch_timeout(self, proc: Proc) -> None:
        if proc.ctl is None:
            return  # exec'd or failed in time
        what = "container" if proc.log is not None else "exec'd process"
        proc.outcome = {
            "error": f"the {what} did not start within {START_TIMEOUT:g} s (a mount or a file it needs "
            "hangs?); killed",
            "code": 125,
        }
        print(f"spawner: {proc.cid[:12]}: {proc.outcome['error']}", file=sys.stderr, flush=True)
        self._launch_decided(proc)
        done, proc.done = proc.done, None  # answer now: a process stuck in the kernel may take long to die
        if done is not None:
            done(proc, proc.outcome)

    def _kill(self, proc: Proc) -> None:
        self.signal(proc, signal.SIGKILL)

    def _exited(self, proc: Proc, block: bool = False) -> None:
        """Its pidfd is readable (or it must go now): handle its exit once, then answer its launch if
        that is still open (it died before it could report: its report is read first). An adopted
        container's exit waits (in the loop, or here with ``block``) until the keeper has its code."""
        if proc.reaped:
            return
        if proc.adopted and proc.code is None and not self._keeper_code(proc, block):
            return
        if proc.ctl is not None:
            self._on_ctl(proc)
            if proc.ctl is not None:  # no EOF although the child is gone: something else holds it
                self._launch_decided(proc)
        error = proc.outcome if "error" in proc.outcome else None
        if proc.log is not None:
            self.on_exit(proc, error)
        else:
            self.on_exec_exit(proc)
        done, proc.done = proc.done, None
        if done is not None:
            done(proc, proc.outcome)

    def attach(self, conn, proc: Proc) -> None:
        proc.attached.add(conn)
        conn.proc = proc

    def signal(self, proc: Proc, sig) -> None:
        try:
            signal.pidfd_send_signal(proc.pidfd, signal_number(sig))
            proc.killed = proc.killed or signal_number(sig) == signal.SIGKILL
        except (ProcessLookupError, OSError):
            pass

    def forget(self, conn) -> None:
        """A connection closed: it waits for and is attached to nothing any more. A foreground
        ``run --rm`` whose client is gone (killed, its terminal closed) is killed: nothing else would
        ever stop and remove it (issue 11)."""
        for proc in self.boxes.values():
            if proc.owner is conn:
                self.signal(proc, "KILL")
        for proc in [*self.boxes.values(), *self.execs.values()]:
            proc.attached.discard(conn)
            proc.paused.discard(conn)
        for lst in self.pending_attach.values():
            if conn in lst:
                lst.remove(conn)
        for cid, lst in self.waiters.items():
            self.waiters[cid] = [w for w in lst if w[0] is not conn]

    # -- stdin ------------------------------------------------------------------------------------
    def write_stdin(self, conn, proc: Proc, data: bytes) -> None:
        """Queue ``data`` for the process's stdin (or pty); written as it reads, never blocking the
        loop. Past ``STDIN_BUFFER`` unread bytes the sending client is not read until it drains."""
        if proc.stdin_fd is None or proc.stdin_eof:
            return
        proc.inbuf += data
        self._flush_stdin(proc)
        if len(proc.inbuf) > STDIN_BUFFER and conn is not None:
            proc.paused.add(conn)
            conn.pause()

    def close_stdin(self, proc: Proc) -> None:
        proc.stdin_eof = True
        self._flush_stdin(proc)

    def _flush_stdin(self, proc: Proc) -> None:
        fd = proc.stdin_fd
        while proc.inbuf and fd is not None:
            try:
                n = os.write(fd, proc.inbuf)
            except BlockingIOError:
                break
            except OSError:  # it closed its stdin: what it did not read is dropped
                proc.inbuf.clear()
                break
            del proc.inbuf[:n]
        if fd is not None:
            self._watch_fd(proc, fd)
        if not proc.inbuf and proc.stdin_eof:
            proc.close_stdin()  # a pty has no EOF of its own: its stdin ends with the process
        if len(proc.inbuf) <= STDIN_BUFFER // 2:
            for conn in proc.paused:
                conn.resume()
            proc.paused.clear()

    def _watch_fd(self, proc: Proc, fd: int) -> None:
        """(Re)register ``fd`` with the events it needs now: output to read, stdin to write."""
        reading = fd in proc.outs and not proc.out_paused
        events = (READ if reading else 0) | (WRITE if proc.inbuf and fd == proc.stdin_fd else 0)
        loop = self.sp.loop
        loop.unwatch(fd)
        if events:
            loop.watch(fd, lambda mask: self._on_fd(proc, fd, mask), events, bulk=reading)

    def _on_fd(self, proc: Proc, fd: int, mask: int) -> None:
        if mask & WRITE:
            self._flush_stdin(proc)
        if mask & READ and fd in proc.outs:
            self.on_output(proc, fd)

    # -- output -----------------------------------------------------------------------------------
    def _deliver(self, proc: Proc, kind: int, data: bytes) -> None:
        if proc.log is not None:
            proc.log.write("stdout" if kind == wire.STDOUT else "stderr", data)
        frame = wire.frame(kind, data)
        for conn in list(proc.attached):
            conn.send(frame)

    def on_output(self, proc: Proc, fd: int) -> bool:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return True
        except OSError:  # EIO: the pty's last slave closed
            data = b""
        if not data:
            self.sp.loop.unwatch(fd)
            os.close(fd)
            del proc.outs[fd]
            if fd == proc.master:
                proc.master = None
            return False
        self._deliver(proc, proc.outs[fd], data)
        self._spend(proc, len(data))
        return True

    def _spend(self, proc: Proc, n: int) -> None:
        """Charge ``n`` bytes to the process's output budget; out of budget (or with a client far
        behind) its output waits until the budget is back."""
        t = time.monotonic()
        proc.tokens = min(float(OUTPUT_BURST), proc.tokens + (t - proc.refilled) * OUTPUT_RATE) - n
        proc.refilled = t
        backlog = any(len(conn.out) > CLIENT_BACKLOG for conn in proc.attached)
        if proc.tokens >= 0 and not backlog:
            return
        proc.out_paused = True
        for fd in list(proc.outs):
            self._watch_fd(proc, fd)
        wait = max(-proc.tokens / OUTPUT_RATE, 0.02 if backlog else 0.0)
        self.sp.loop.after(wait, lambda: self._resume_output(proc))

    def _resume_output(self, proc: Proc) -> None:
        if not proc.out_paused or proc.reaped:
            return
        if any(len(conn.out) > CLIENT_BACKLOG // 2 for conn in proc.attached):
            self.sp.loop.after(0.02, lambda: self._resume_output(proc))
            return
        proc.out_paused = False
        for fd in list(proc.outs):
            self._watch_fd(proc, fd)

    def _drain(self, proc: Proc) -> None:
        """Read what the dead process left in its pipes; everything that could write is gone."""
        for fd in list(proc.outs):
            os.set_blocking(fd, False)
            while True:
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    break  # nothing buffered and a writer might linger: do not block the loop
                except OSError:
                    break
                if not data:
                    break
                self._deliver(proc, proc.outs[fd], data)
            self.sp.loop.unwatch(fd)
            os.close(fd)
        proc.outs.clear()
        if proc.stdin_w is not None:
            self.sp.loop.unwatch(proc.stdin_w)
        proc.close_stdin()
        proc.master = None
        proc.inbuf.clear()
        for conn in proc.paused:
            conn.resume()
        proc.paused.clear()

    # -- exits ------------------------------------------------------------------------------------
    @staticmethod
    def _lost_code(proc: Proc) -> int:
        """No keeper recorded the code: it was killed too, so the container's parent is the host's
        init, which drops it. 137 if this spawner sent the SIGKILL, else 255 with the reason."""
        if proc.killed:
            return 137
        if "error" not in proc.outcome:
            proc.outcome = {"error": LOST_CODE, "code": 255}
        return 255

    def _keeper_code(self, proc: Proc, block: bool) -> bool:
        """Whether an adopted container's exit code is known (:attr:`Proc.code`): the keeper writes it
        before it reaps the zombie, so once the process is gone its file is there -- or nobody kept
        it (no keeper: 255). While it is still there, check again shortly, up to ``REAP_WAIT``."""
        from runtime.rootless import host_pid

        loop = self.sp.loop
        if not proc.reap_by:
            proc.reap_by = time.monotonic() + REAP_WAIT
            loop.unwatch(proc.pidfd)  # readable from now on: polled instead
        while True:
            st = keeper.proc_stat(host_pid(proc.pid, proc.pidfd))
            if st is None or st[1] != proc.start:
                kept = keeper.take_status(self.sp.table.root, proc.pid, proc.start)
                proc.code = self._lost_code(proc) if kept is None else kept[0]
                return True
            if time.monotonic() > proc.reap_by:
                print(f"spawner: {proc.cid[:12]}: nobody reaped {proc.pid}", file=sys.stderr, flush=True)
                proc.code = self._lost_code(proc)
                return True
            if not block:
                loop.after(0.005, lambda: self._exited(proc))
                return False
            time.sleep(0.005)

    def _reap(self, proc: Proc) -> int:
        """Its exit code; waits at most ``REAP_WAIT`` for a process that is not gone yet (one stuck
        in the kernel is left unreaped rather than freezing the loop)."""
        proc.reaped = True
        self.sp.loop.unwatch(proc.pidfd)
        if proc.adopted:  # not our child: the keeper reaped it (Supervisor._keeper_code)
            os.close(proc.pidfd)
            return 255 if proc.code is None else proc.code
        code = 137
        if select.select([proc.pidfd], [], [], REAP_WAIT)[0]:
            try:
                _, status = os.waitpid(proc.pid, 0)
                code = exit_code(status)
            except ChildProcessError:
                pass
        else:
            print(f"spawner: process {proc.pid} did not exit; left behind", file=sys.stderr, flush=True)
        os.close(proc.pidfd)
        return code

    def on_exit(self, box: Proc, error: dict | None = None) -> None:
        sp = self.sp
        sp.mark("exit seen")
        if box.trace is not None:
            box.trace.mark("exit")
        sp.loop.quiet_until = 0.0  # its client is answered below: idle work (the next stem) may go
        # exec'd processes first: they are our children inside the container's PID namespace, and its
        # init cannot finish dying (so waitpid on it would block) until every one of them is reaped
        for ex in [e for e in self.execs.values() if e.cid == box.cid]:
            self._kill(ex)
            self._exited(ex)
        code = self._reap(box)
        if box.adopted and box.cfg.get("tty") and not error:
            error = {"error": recovery.TTY_LOST, "code": code}
        self._drain(box)
        if box.log is not None:
            box.log.close()
        oom = sp.cg.oom_killed(box.cgroup)
        sp.remove_cgroup(box.cgroup)
        if error:
            code = error.get("code", 125)
        if oom and not error:
            code = 137
        self.boxes.pop(box.cid, None)
        cid = box.cid
        trace = []
        if box.trace is not None:
            box.trace.mark("reap")
            trace = box.trace.relative()
        if box.cfg.get("auto_remove"):
            trash = sp.table.forget(cid)  # gone from every listing now; files deleted when idle
            if trash:
                sp.purge(trash)
        else:
            try:
                state = sp.table.load(cid).state
                sp.table.write_state(
                    cid,
                    {
                        **state,
                        "status": EXITED,
                        "pid": 0,
                        "exit_code": code,
                        "oom_killed": oom,
                        "finished_at": now(),
                        "error": (error or {}).get("error", ""),
                        "trace": trace,
                    },
                )
            except Exception as e:
                print(f"spawner: could not record the exit of {cid}: {e}", file=sys.stderr, flush=True)
        for conn in list(box.attached):
            conn.reply({"exit": code, "oom_killed": oom, "trace": trace})
            conn.finish()
        sp.mark("exit handled")
        for conn, _ in self.waiters.pop(cid, []):
            conn.reply({"exit": code, "oom_killed": oom, "trace": trace})
            conn.finish()
        for conn in self.pending_attach.pop(cid, []):
            conn.reply({"exit": code})
            conn.finish()

    def on_exec_exit(self, ex: Proc) -> None:
        code = self._reap(ex)
        self._drain(ex)
        self.execs.pop(ex.pidfd, None)
        for conn in list(ex.attached):
            conn.reply({"exit": code})
            conn.finish()

    def kill_all(self) -> None:
        """Kill every exec and every container, recording its exit (on the way out). Execs first: a
        container's init cannot finish dying, for the keeper to reap it, while they are unreaped."""
        self.kill_execs()
        for box in list(self.boxes.values()):
            self._kill(box)
            self._exited(box, block=True)

    def leave_all(self) -> None:
        """On the way out without killing (live restore): every container keeps running and its
        output waits in its FIFOs for the next spawner; a partial line read already is logged now.
        ``exec``'d processes are killed (their output is this spawner's pipes)."""
        for box in self.boxes.values():
            if box.log is not None:
                box.log.close()
        self.kill_execs()

    def kill_execs(self) -> None:
        """Kill every exec'd process (they die with the spawner anyway: their output is its pipes)."""
        for ex in list(self.execs.values()):
            self._kill(ex)
            self._exited(ex)


def open_fifos(cid: str, paths: list[str]) -> list[int | None]:
    """Read ends of a container's stdout and stderr FIFOs (made if missing; None for one that cannot
    be opened), opened by path and non-blocking. A start opens them *before* the container can
    write: a FIFO's buffer lives only while some fd of it is open, so output the container wrote
    and exited after would be gone if the spawner opened them later."""
    fds: list[int | None] = []
    for path in paths:
        try:
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
            except FileNotFoundError:
                os.mkfifo(path, 0o600)
                fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError as e:
            print(f"spawner: {cid[:12]}: cannot read its output: {e}", file=sys.stderr, flush=True)
            fds.append(None)
            continue
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            fds.append(fd)
        else:
            os.close(fd)
            fds.append(None)
    return fds


def _end_torn_line(path: str) -> None:
    """End the log's last entry if a spawner killed mid-write left it without its newline."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            os.write(fd, b"\n")
    except OSError:
        pass
    finally:
        os.close(fd)
