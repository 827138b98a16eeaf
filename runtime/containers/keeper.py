"""The keeper: one small process per state root that outlives its spawner, so containers can too.

Live restore (issue 10) lets running containers survive the spawner's death without a shim per
container. Three things are needed for that, and the keeper is the one that needs a process:

* a container must not die with the spawner -- its init drops ``PR_SET_PDEATHSIG`` right before
  ``execve`` (:mod:`runtime.containers.init`);
* its output must have somewhere to go -- two FIFOs in its directory, opened ``O_RDWR`` by the
  container itself (:mod:`runtime.containers.spawner.supervise`);
* its exit code must not be lost. An orphan is re-parented to the nearest ancestor that is a *child
  subreaper*, else to the host's PID 1, which reaps it and drops the code. The keeper is that
  subreaper: the client double-forks it, it sets ``PR_SET_CHILD_SUBREAPER`` and forks the spawner
  (:func:`launch`). When the spawner dies, its containers become the keeper's children; the keeper
  reaps each (``waitid``) and writes its exit code atomically to ``exits/<pid>-<start>`` in the
  state root, where the next spawner's recovery (:mod:`runtime.containers.recovery`) finds it. The
  name carries the process's start time (``/proc/PID/stat`` field 22) as well as its pid, so a
  reused pid never picks up another process's code.

It holds no container fds, restarts nothing and costs nothing per container: one process per root
(a ``python -I -S`` running only this stdlib-only file: ~10 MB resident, ~5 MB of it its own), which
forks the next spawner when a client asks (over ``keeper.sock``; the client hands it the pipe its
"ready" comes back on, its argv and environment), and exits once the root has neither a spawner nor
an orphan left. Clients decide to launch one at a time (``launch.lock``, :func:`launching`), so two
first commands start one keeper; a second keeper all the same (the launch lock timed out) finds the
keeper lock taken and only keeps the children it has.

If the keeper itself is killed, the containers still run and are adopted, but their parent is then
the host's init, which drops exit codes: the spawner reports 137 for one it killed, else 255 with the
reason. In rootless mode the keeper is PID 1 of the user's PID namespace, so killing it kills every
container of that user (the kernel's rule for a namespace's init); their records then say why.

Run as a script (``python -I -S keeper.py ROOT SPAWNER_PID``), so nothing of ``runtime`` is imported
into it; the client side (:func:`ask`, :func:`launch`, :func:`read_status`) is imported by the engine.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import socket
import struct
import sys
import time

SOCKET = "keeper.sock"
LOCK = "keeper.lock"
LAUNCH_LOCK = "launch.lock"
EXITS = "exits"
ASK_TIMEOUT = 5.0
MAX_REQUEST = 1 << 20  # argv and environment of a spawn request
PR_SET_CHILD_SUBREAPER = 36


# -- what a process is ---------------------------------------------------------------------------------
def proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks since boot) of ``pid``, None if there is none. The
    start time tells a process from a later one that got the same pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read()
    except OSError:
        return None
    fields = text.rsplit(b")", 1)[-1].split()
    try:
        return fields[0].decode(), int(fields[19])
    except (IndexError, ValueError):
        return None


def proc_pid(pid: int) -> int:
    """``pid`` (of this process's PID namespace) as ``/proc`` names it: they differ in rootless mode,
    where the keeper is PID 1 of its own PID namespace but ``/proc`` is the host's."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return pid
    try:
        with open(f"/proc/self/fdinfo/{fd}") as f:
            for line in f:
                if line.startswith("Pid:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    finally:
        os.close(fd)
    return pid


def status_path(root: str, pid: int, start: int) -> str:
    return os.path.join(root, EXITS, f"{pid}-{start}")


def read_status(root: str, pid: int, start: int) -> int | None:
    """The exit code the keeper recorded for this process, or None."""
    try:
        with open(status_path(root, pid, start)) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def take_status(root: str, pid: int, start: int) -> tuple[int, int] | None:
    """(exit code, when it was reaped in ns since the epoch: the file's mtime) the keeper recorded
    for this process, the file then deleted (read for good); None if it recorded nothing."""
    path = status_path(root, pid, start)
    code = read_status(root, pid, start)
    if code is None:
        return None
    try:
        when = os.stat(path).st_mtime_ns
        os.unlink(path)
    except OSError:
        when = time.time_ns()
    return code, when


def _write_status(root: str, pid: int, start: int, code: int) -> None:
    path = status_path(root, pid, start)
    tmp = f"{path}.tmp"
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, b"%d\n" % code)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as e:
        print(f"keeper: could not record the exit of {pid}: {e}", file=sys.stderr, flush=True)


# -- the client's side -------------------------------------------------------------------------------
def ask(root: str, ready_w: int, spawner_argv: list[str]) -> bool:
    """Ask this root's keeper to fork a spawner (``spawner_argv``, with the caller's environment)
    that writes ``ok`` to ``ready_w`` once serving; False if there is no keeper (or it is on its way
    out): then :func:`launch` a new one. The request is ``spawn``, the argv count, the argv and the
    environment, NUL-separated, with ``ready_w`` passed along."""
    argv = [os.fsencode(a) for a in spawner_argv]
    env = [k + b"=" + v for k, v in os.environb.items()]
    request = b"\0".join([b"spawn", b"%d" % len(argv), *argv, *env])
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(ASK_TIMEOUT)
    try:
        sock.connect(os.path.join(root, SOCKET))
        socket.send_fds(sock, [request[:1024]], [ready_w])
        sock.sendall(request[1024:])
        sock.shutdown(socket.SHUT_WR)
        return sock.recv(16) == b"ok"
    except OSError:
        return False
    finally:
        sock.close()


def _parse(request: bytes) -> tuple[list[bytes], dict[bytes, bytes]] | None:
    parts = request.split(b"\0")
    try:
        n = int(parts[1])
    except (IndexError, ValueError):
        return None
    if parts[0] != b"spawn" or n < 1 or len(parts) < 2 + n:
        return None
    env = dict(p.split(b"=", 1) for p in parts[2 + n :] if b"=" in p)
    return parts[2 : 2 + n], env


def launch(root: str, ready_w: int, spawner_argv: list[str], log: int, enter=None) -> int:
    """In the client: start a keeper and, under it, a spawner (``spawner_argv``, given ``ready_w``).
    A double fork, so both are nobody's child: the intermediate process makes a new session (and
    calls ``enter()``, rootless mode's user namespace) and exits; its child becomes the subreaper,
    forks the spawner and ``exec``s this file. Returns the intermediate's pid, for the caller to
    ``waitpid``. Between fork and exec only async-signal-safe work happens (the daemon that calls
    this is multi-threaded); ``prctl`` is a ctypes function looked up before the fork."""
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    keeper_argv = [sys.executable, "-I", "-S", os.path.abspath(__file__), root]
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            if enter is not None:
                enter()
            if os.fork() == 0:
                os.chdir("/")  # a long-lived process must not pin the caller's directory
                os.dup2(null, 0)
                os.dup2(log, 1)
                os.dup2(log, 2)
                prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # kept across execve
                spawner = os.fork()
                if spawner == 0:
                    os.set_inheritable(ready_w, True)
                    os.execv(spawner_argv[0], spawner_argv)
                os.execv(keeper_argv[0], [*keeper_argv, str(spawner)])
        finally:
            os._exit(0)
    os.close(null)
    return pid


@contextlib.contextmanager
def launching(root: str, seconds: float):
    """Held by a client from before it asks for a spawner until that spawner serves: two clients
    launching at once would otherwise both find no keeper and each start one, the loser then
    lingering as the subreaper of nothing anyone asks (``flock``, so a client that dies lets go).
    The caller checks again for a serving spawner once it holds it. After ``seconds`` it goes on
    without (a wedged launcher must not stop the engine); the keeper's own lock still lets only one
    keeper serve."""
    fd = os.open(os.path.join(root, LAUNCH_LOCK), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    deadline = time.monotonic() + seconds
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.01)
        yield
    finally:
        os.close(fd)


def wait_gone(root: str, seconds: float = 5.0) -> bool:
    """Wait until this root's keeper has exited (it removes its socket on the way out); True if it
    has. After a ``shutdown`` it has nothing left to reap, so it goes at once."""
    path = os.path.join(root, SOCKET)
    deadline = time.monotonic() + seconds
    while os.path.exists(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


# -- the keeper itself -------------------------------------------------------------------------------
class Keeper:
    def __init__(self, root: str, spawners: set[int]) -> None:
        self.root = root
        self.spawners = spawners  # its children that are spawners (their exits are nobody's business)
        self.listener: socket.socket | None = None

    def serve(self) -> None:
        for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_IGN)
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.listener = self._listen()
        try:
            while self.reap():
                watched = [wake_r] + ([self.listener] if self.listener else [])
                ready = select.select(watched, [], [], 60.0)[0]
                if wake_r in ready:
                    while os.read(wake_r, 512) == 512:
                        pass
                if self.listener in ready:
                    self._accept()
        finally:
            self._close()

    def _listen(self) -> socket.socket | None:
        """The root's one keeper socket, if this keeper holds the lock (else it serves nobody)."""
        lock = os.open(os.path.join(self.root, LOCK), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(lock)
            return None
        self.lock = lock  # held until the process ends
        path = os.path.join(self.root, SOCKET)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(path)
        os.chmod(path, 0o600)
        sock.listen(16)
        sock.setblocking(False)
        return sock

    def _close(self) -> None:
        """Stop serving before the last check, so a client that still connects gets EOF, not a hang."""
        if self.listener is not None:
            try:
                os.unlink(os.path.join(self.root, SOCKET))
            except FileNotFoundError:
                pass
            self.listener.close()
            self.listener = None

    def reap(self) -> bool:
        """Reap every child that has exited, recording each orphan's code first (``WNOWAIT``: the
        process stays a zombie, with its ``/proc`` entry and start time, until the file is written);
        True while children remain."""
        while True:
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return False
            if info is None or not info.si_pid:
                return True
            pid = info.si_pid
            if pid not in self.spawners:
                st = proc_stat(proc_pid(pid))
                code = info.si_status if info.si_code == os.CLD_EXITED else 128 + info.si_status
                if st is not None:
                    _write_status(self.root, pid, st[1], code)
            try:
                os.waitid(os.P_PID, pid, os.WEXITED)
            except ChildProcessError:
                pass
            self.spawners.discard(pid)

    def _accept(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        fds: list[int] = []
        with conn:
            conn.settimeout(ASK_TIMEOUT)  # a client that sends nothing costs at most this
            try:
                creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
                if struct.unpack("3i", creds)[1] != os.geteuid():
                    return  # only the keeper's own user may have a spawner started (the socket is 0600 too)
                data, fds, _, _ = socket.recv_fds(conn, 1024, 1)
                request = bytearray(data)
                while data and len(request) <= MAX_REQUEST:
                    data = conn.recv(65536)
                    request += data
                parsed = _parse(bytes(request)) if fds else None
                if parsed is not None:
                    self.spawners.add(self._spawn(fds[0], *parsed))
                    conn.sendall(b"ok")
            except OSError as e:
                print(f"keeper: could not start a spawner: {e}", file=sys.stderr, flush=True)
            finally:
                for fd in fds:
                    os.close(fd)

    def _spawn(self, ready_w: int, argv: list[bytes], env: dict[bytes, bytes]) -> int:
        """Fork and exec a spawner as the client asked, its ``READY_FD`` argument ``ready_w``."""
        pid = os.fork()
        if pid == 0:
            try:
                os.set_inheritable(ready_w, True)
                os.execve(argv[0], [*argv, str(ready_w).encode()], env)
            finally:
                os._exit(127)
        return pid


def main(argv: list[str]) -> int:
    """``keeper.py ROOT SPAWNER_PID``: keep ROOT's orphans, starting with the spawner just forked."""
    root, first = argv[0], int(argv[1])
    Keeper(root, {first}).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
