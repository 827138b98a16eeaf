"""Output and exit supervision: what the spawner does for a process once it runs.

A container's init and an ``exec``'d process are supervised alike (:meth:`Supervisor.launched`, the
one helper both ``start`` and ``exec`` end in): wait until the child has ``execve``d or reported an
error, then watch its output pipes (or pty master) and its pidfd in the loop. Output goes to the
json-file log (:mod:`runtime.containers.logs`, containers only) and to every attached client; the
exit is reaped through the pidfd, recorded (exit code, ``OOMKilled``) and sent to whoever waits.
Per running process the spawner keeps a few fds and one :class:`Proc`, nothing else.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys

from runtime.containers import wire
from runtime.containers.logs import LogWriter
from runtime.containers.signals import exit_code, signal_number
from runtime.containers.state import EXITED, now


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
        self.attached: set = set()  # Conns that get its output and exit
        self.log: LogWriter | None = None
        self.cgroup = ""

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


def wait_exec(ctl: socket.socket) -> tuple[dict, int | None]:
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


class Supervisor:
    """Every supervised process of one spawner, and who waits for which."""

    def __init__(self, spawner) -> None:
        self.sp = spawner
        self.boxes: dict[str, Proc] = {}  # container id -> its init
        self.execs: dict[int, Proc] = {}  # pidfd -> exec'd process
        self.waiters: dict[str, list[tuple[object, str]]] = {}  # cid -> [(conn, condition)]
        self.pending_attach: dict[str, list] = {}  # cid -> conns attached before the start

    # -- from exec to supervised ------------------------------------------------------------------
    def launched(
        self,
        cid: str,
        pid: int,
        pidfd: int,
        cfg: dict,
        ctl: socket.socket,
        pipes: tuple,
        init_of: str = "",
        failed: dict | None = None,
    ) -> tuple[Proc, dict]:
        """The shared end of ``start`` and ``exec``: wait for the child's ``execve`` (or its error) on
        ``ctl``, then supervise it. ``pipes`` are the parent ends (stdin_w, stdout_r, stderr_r);
        ``init_of`` is the cgroup of a container's init ("" for an exec). Returns the process and the
        outcome (``{"error", "code"}`` when it failed, or ``failed`` already before; the exit is then
        handled already)."""
        in_w, out_r, err_r = pipes
        outcome, master = failed or {}, None
        if not failed:
            try:
                outcome, master = wait_exec(ctl)
                self.sp.mark("exec done")
            except OSError as e:
                outcome = {"error": f"start failed: {e}", "code": 125}
        ctl.close()
        proc = Proc(cid, pid, pidfd, cfg, {out_r: wire.STDOUT, err_r: wire.STDERR}, None, master)
        if cfg["stdin"]:
            proc.stdin_w = in_w
        else:
            os.close(in_w)
        if master is not None:
            os.close(out_r)
            os.close(err_r)
            proc.outs = {master: wire.STDOUT}
        loop = self.sp.loop
        if init_of:
            proc.cgroup = init_of
            proc.log = LogWriter(self.sp.table.log_path(cid))
            self.boxes[cid] = proc
            on_exit = self.on_exit
        else:
            self.execs[pidfd] = proc
            on_exit = self.on_exec_exit
        if "error" in outcome:
            on_exit(proc, error=outcome)
            return proc, outcome
        for fd in proc.outs:
            os.set_blocking(fd, False)
            loop.watch(fd, lambda mask, fd=fd, p=proc: self.on_output(p, fd))
        loop.watch(pidfd, lambda mask, p=proc: on_exit(p))
        return proc, outcome

    def attach(self, conn, proc: Proc) -> None:
        proc.attached.add(conn)
        conn.proc = proc

    def signal(self, proc: Proc, sig) -> None:
        try:
            signal.pidfd_send_signal(proc.pidfd, signal_number(sig))
        except ProcessLookupError:
            pass

    def forget(self, conn) -> None:
        """A connection closed: it waits for and is attached to nothing any more. A foreground
        ``run --rm`` whose client is gone (killed, its terminal closed) is killed: nothing else would
        ever stop and remove it (issue 11)."""
        for proc in self.boxes.values():
            if getattr(proc, "owner", None) is conn:
                self.signal(proc, "KILL")
        for proc in [*self.boxes.values(), *self.execs.values()]:
            proc.attached.discard(conn)
        for lst in self.pending_attach.values():
            if conn in lst:
                lst.remove(conn)
        for cid, lst in self.waiters.items():
            self.waiters[cid] = [w for w in lst if w[0] is not conn]

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
        return True

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
        proc.close_stdin()
        proc.master = None

    # -- exits ------------------------------------------------------------------------------------
    def _reap(self, proc: Proc) -> int:
        self.sp.loop.unwatch(proc.pidfd)
        try:
            _, status = os.waitpid(proc.pid, 0)
            code = exit_code(status)
        except ChildProcessError:
            code = 137
        os.close(proc.pidfd)
        return code

    def on_exit(self, box: Proc, error: dict | None = None) -> None:
        sp = self.sp
        sp.mark("exit seen")
        sp.loop.quiet_until = 0.0  # its client is answered below: idle work (the next stem) may go
        # exec'd processes first: they are our children inside the container's PID namespace, and its
        # init cannot finish dying (so waitpid on it would block) until every one of them is reaped
        for ex in [e for e in self.execs.values() if e.cid == box.cid]:
            self.on_exec_exit(ex)
        code = self._reap(box)
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
                    },
                )
            except Exception as e:
                print(f"spawner: could not record the exit of {cid}: {e}", file=sys.stderr, flush=True)
        for conn in list(box.attached):
            conn.reply({"exit": code, "oom_killed": oom})
            conn.finish()
        sp.mark("exit handled")
        for conn, _ in self.waiters.pop(cid, []):
            conn.reply({"exit": code, "oom_killed": oom})
            conn.finish()
        for conn in self.pending_attach.pop(cid, []):
            conn.reply({"exit": code})
            conn.finish()

    def on_exec_exit(self, ex: Proc, error: dict | None = None) -> None:
        code = self._reap(ex)
        self._drain(ex)
        self.execs.pop(ex.pidfd, None)
        for conn in list(ex.attached):
            conn.reply({"exit": code})
            conn.finish()

    def kill_all(self) -> None:
        """Kill every container (recording its exit) and every exec (on the way out)."""
        for box in list(self.boxes.values()):
            try:
                signal.pidfd_send_signal(box.pidfd, signal.SIGKILL)
            except OSError:
                pass
            self.on_exit(box)
        for ex in list(self.execs.values()):
            self.on_exec_exit(ex)
