"""``vmvc run/create/start/stop/kill/rm/wait/ps/logs/exec/inspect/stats``: docker's container verbs.

Thin: parse flags, call :class:`runtime.containers.Engine`, print. ``run`` is on the measured path
(``vmvc run --rm`` vs ``crun run``), so this module imports only what parsing needs; rich is
loaded by nothing here. The whole ``run`` path imports no ``json``, ``re``, ``enum``, ``signal``
or ``socket`` module (their C parts only); :mod:`runtime.cli.launcher` removes the rest of the
interpreter's start and teardown that a command does not need.
"""

from __future__ import annotations

import os
import sys

from runtime.errors import NotFound, VmvcError


def parser(prog: str, description: str):
    from runtime.cli.args import parser as make

    return make(prog, description)


NEEDS_ROOT = (
    "containers need root on this host (namespaces, cgroups and overlay mounts): run as root or with sudo."
    " Without root you can use the model (vmvc sim), the recorded notebooks and results,"
    " and VM boots under TCG (vmvc vm boot --accel tcg)"
)


ENGINE = None  # set by runtime.cli.remote (--host, VMVC_HOST): the same verbs through a daemon's API


def _engine():
    if ENGINE is not None:
        return ENGINE
    if os.geteuid() != 0:  # rootless mode (runtime.rootless): one line if this user cannot have it
        from runtime.paths import state_root
        from runtime.rootless.launch import check_state_root

        check_state_root(state_root())
    from runtime.containers.engine import Engine

    return Engine()


# -- flags shared by run and create ----------------------------------------------------------------
# run/create flags, the one table both the fast parser and ``--help`` are made from:
# (long name, short, metavar (None: a switch), repeatable, help). ``vmvc run`` parses with this table
# rather than argparse, which with ``re`` and ``enum`` would cost ~5 ms of a ~25 ms command.
RUN_FLAGS = [
    ("detach", "d", None, False, "run in the background, print the id"),
    ("rm", None, None, False, "remove the container when it exits"),
    ("interactive", "i", None, False, "keep stdin open"),
    ("tty", "t", None, False, "allocate a pseudo-tty"),
    ("init", None, None, False, "run a tiny init as PID 1: forwards signals, reaps zombies"),
    ("name", None, "NAME", False, "assign a name to the container"),
    ("env", "e", "KEY=VALUE", True, "set an environment variable"),
    ("workdir", "w", "DIR", False, "working directory inside the container"),
    ("hostname", "h", "NAME", False, "container host name"),
    ("user", "u", "USER", False, "user name or uid[:gid]"),
    ("volume", "v", "HOST:CONTAINER[:ro]", True, "bind mount a host path"),
    ("memory", "m", "BYTES", False, "memory limit (e.g. 64m)"),
    ("cpus", None, "N", False, "number of CPUs (e.g. 0.5)"),
    ("pids-limit", None, "N", False, "maximum number of processes"),
    ("network", None, "MODE", False, "none, host or private (default)"),
    ("net", None, "MODE", False, "the same as --network"),
    ("entrypoint", None, "CMD", False, "override the image's entrypoint"),
    ("label", "l", "KEY=VALUE", True, "set a label"),
    ("storage-opt", None, "size=SIZE", True, "cap the writable layer (needs xfs project quotas)"),  # H4
    ("trace", None, None, False, "after the exit, print the start's steps and their ms on stderr (run)"),
    ("log-opt", None, "KEY=VALUE", True,
     "json-file log rotation: max-size=SIZE (-1: unlimited), max-file=N; default max-size=10m, max-file=3"),
    # H3 (issue 10, confinement): runtime.security.options
    ("security-opt", None, "OPT", True, "seccomp=unconfined|PROFILE.json, no-new-privileges"),
    ("privileged", None, None, False,
     "DANGEROUS: all capabilities, no seccomp, every host device, writable /sys and cgroups;"
     " root in such a container is root on the host"),
]


class RunArgs:
    """Parsed ``run``/``create`` flags, attribute names as argparse would give them."""

    def __init__(self) -> None:
        for long, _, value, many, _help in RUN_FLAGS:
            setattr(self, long.replace("-", "_"), [] if many else (None if value else False))
        self.image, self.command = None, []


def parse_run_args(prog: str, argv: list[str]) -> RunArgs:
    """docker's flag grammar: ``--name x``, ``--name=x``, ``-e K=V``, ``-eK=V``, ``-it``; flags stop at the
    image name or ``--``. Bad flags end with one line and exit 125, like docker."""
    longs = {f[0]: f for f in RUN_FLAGS}
    shorts = {f[1]: f for f in RUN_FLAGS if f[1]}
    a = RunArgs()

    def fail(message: str):
        print(f"{message}\nSee '{prog} --help'.", file=sys.stderr)
        raise SystemExit(125)

    def put(flag, value):
        attr = flag[0].replace("-", "_")
        if flag[3]:
            getattr(a, attr).append(value)
        else:
            setattr(a, attr, value)

    i = 0
    while i < len(argv):
        word = argv[i]
        i += 1
        if word == "--":
            break
        if word == "--help":
            run_parser(prog).print_help()
            raise SystemExit(0)
        if word.startswith("--"):
            name, eq, value = word[2:].partition("=")
            flag = longs.get(name)
            if flag is None:
                fail(f"unknown flag: --{name}")
            if not flag[2]:
                put(flag, True)
                continue
            if not eq:
                if i >= len(argv):
                    fail(f"flag needs an argument: --{name}")
                value, i = argv[i], i + 1
            put(flag, value)
        elif word.startswith("-") and len(word) > 1:
            j = 1
            while j < len(word):
                flag = shorts.get(word[j])
                if flag is None:
                    fail(f"unknown shorthand flag: '{word[j]}' in {word}")
                j += 1
                if not flag[2]:
                    put(flag, True)
                    continue
                value = word[j:].removeprefix("=")
                if not value:
                    if i >= len(argv):
                        fail(f"flag needs an argument: '{flag[1]}' in -{flag[1]}")
                    value, i = argv[i], i + 1
                put(flag, value)
                break
        else:
            a.image = word
            break
    if a.image is None:
        if i < len(argv):
            a.image, i = argv[i], i + 1
        else:
            fail('"run" requires at least 1 argument.' if "run" in prog else "requires at least 1 argument.")
    a.command = argv[i:]
    if a.net is not None and a.network is None:
        a.network = a.net
    if a.network is None:
        a.network = "private"
    if a.pids_limit is not None:
        try:
            a.pids_limit = int(a.pids_limit)
        except ValueError:
            fail(f'invalid argument "{a.pids_limit}" for "--pids-limit" flag: not an integer')
    return a


def run_parser(prog: str):
    """argparse made from :data:`RUN_FLAGS`, used only to print ``--help`` (and to test that the two
    agree)."""
    from runtime.cli.args import Parser

    what = "Create and run a new container from an image" if "run" in prog else "Create a new container"
    p = Parser(prog=prog, description=what, add_help=False)  # -h is --hostname, as in docker
    p.add_argument("--help", action="help", help="show this help and exit")
    for long, short, metavar, many, text in RUN_FLAGS:
        names = [f"-{short}", f"--{long}"] if short else [f"--{long}"]
        if metavar is None:
            p.add_argument(*names, action="store_true", help=text)
        else:
            p.add_argument(*names, action="append" if many else "store", default=[] if many else None,
                           metavar=metavar, help=text)
    p.add_argument("image")
    p.add_argument("command", nargs="...")
    return p


def _spec(a):
    from runtime.containers.spec import Spec, parse_cpus, parse_memory, parse_volume

    network = {"default": "private", "bridge": "private"}.get(a.network, a.network)
    return Spec(
        image=a.image,
        cmd=a.command or None,
        entrypoint=[a.entrypoint] if a.entrypoint is not None else None,
        env=a.env,
        workdir=a.workdir,
        user=a.user,
        hostname=a.hostname,
        name=a.name,
        volumes=[parse_volume(v) for v in a.volume],
        memory=parse_memory(a.memory) if a.memory else None,
        cpus=parse_cpus(a.cpus) if a.cpus else None,
        pids_limit=a.pids_limit,
        network=network,
        tty=a.tty,
        stdin=a.interactive,
        auto_remove=a.rm,
        labels=dict(item.partition("=")[::2] for item in a.label),
        init=a.init,
        log_opt=a.log_opt,  # H5 (issue 10): json-file rotation
        security_opt=a.security_opt,  # H3 (issue 10)
        privileged=a.privileged,
        storage_opt=a.storage_opt,  # H4 (issue 10): runtime.containers.storage
    )


def run(argv: list[str]) -> int:
    """Create and run a new container from an image"""
    a = parse_run_args("vmvc run", argv)
    _need_a_terminal(a.interactive and a.tty)
    spec = _spec(a)
    eng = _engine()
    session = _with_image(spec.image, lambda: eng.run_session(spec, attach=not a.detach))
    if a.detach:
        session.close()
        print(session.reply["id"])
        return 0
    code = _pump(session, stdin=spec.stdin, tty=spec.tty, watch=_Pid1Watch(eng, session.reply.get("id")))
    if a.trace and session.trace:  # H5: the engine's trace of this start (runtime.containers.trace)
        from runtime.containers.trace import table

        print(table(session.trace), file=sys.stderr)
    return code


def _need_a_terminal(wanted: bool) -> None:
    """``-it`` with stdin not a terminal: refuse at once, in docker's words and with its exit code
    (otherwise the raw-mode shell waits for a terminal that never answers)."""
    if wanted and not os.isatty(0):
        print("the input device is not a TTY", file=sys.stderr)
        raise SystemExit(1)


def create(argv: list[str]) -> int:
    """Create a new container"""
    a = parse_run_args("vmvc create", argv)
    spec = _spec(a)
    print(_with_image(spec.image, lambda: _engine().create(spec)))
    return 0


def _with_image(image: str, call):
    """docker's run/create: a missing image is pulled ("Unable to find image … locally"), then the call
    is made again. Costs one ``stat`` on the usual path (no registry configured, image local)."""
    from runtime.cli import registry

    if registry.config_exists():
        registry.ensure_image(image)
    try:
        return call()
    except NotFound as e:
        if not str(e).startswith("No such image"):
            raise
    registry.pull_missing(image)
    return call()


def pid1_ignores(pid: int, signum: int) -> str | None:
    """The name of process ``pid`` if it neither catches nor blocks (waits for) ``signum``: as PID 1 of
    a PID namespace it then never sees it, since the kernel gives PID 1 no default actions."""
    try:
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.rstrip("\n").partition(":\t")[::2] for line in f)
    except OSError:
        return None
    bit = 1 << (signum - 1)
    if (int(fields.get("SigCgt", "0"), 16) | int(fields.get("SigBlk", "0"), 16)) & bit:
        return None
    name = fields.get("Name", "?")
    return None if name == "vmvc-init" else name  # --init takes every signal in rt_sigtimedwait


def _signame(signum: int) -> str:
    import signal

    try:
        return signal.Signals(signum).name
    except ValueError:
        return str(signum)


class _Pid1Watch:
    """Forwarded signals of a foreground ``vmvc run``: one hint when the container's PID 1 ignores them,
    and a SIGKILL on the next Ctrl-C after that hint (the way out it names)."""

    def __init__(self, eng, cid: str | None) -> None:
        self.eng, self.cid, self.hinted = eng, cid, False

    def __call__(self, session, signum: int) -> None:
        if self.hinted == 2 and signum == 2:
            session.signal(9)
            return
        if self.hinted or not self.cid:
            return
        try:
            state = self.eng.get(self.cid).state
            pid = state.get("host_pid") or state.get("pid")  # rootless: the host's view
        except VmvcError:
            return
        name = pid1_ignores(pid, signum) if pid else None
        if name:
            self.hinted = signum if signum == 2 else True
            way_out = "press Ctrl-C again to kill it" if signum == 2 else "use 'vmvc kill'"
            print(f"vmvc: {name} is PID 1 in the container and has no {_signame(signum)} handler, so the "
                  f"kernel ignores the signal (as in docker): run with --init to have it acted on, or "
                  f"{way_out}", file=sys.stderr, flush=True)


def _pump(session, stdin: bool, tty: bool, watch=None) -> int:
    """Copy a session's output to our stdout/stderr (and our stdin to it) until it exits."""
    import _signal as signal  # the C module: ``signal`` wraps it in enums (~3 ms on the run path)

    out, err = sys.stdout.buffer, sys.stderr.buffer
    restore = None
    if tty and os.isatty(0):
        import termios
        import tty as ttymod

        restore = termios.tcgetattr(0)
        ttymod.setraw(0)
        size = os.get_terminal_size(0)
        session.resize(size.lines, size.columns)
        signal.signal(signal.SIGWINCH, lambda *_: session.resize(*reversed(os.get_terminal_size(0))))
    elif not tty:
        def forward(n, _frame):
            session.signal(n)
            if watch is not None:
                watch(session, n)

        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, forward)
    reading_stdin = stdin
    try:
        while True:
            if reading_stdin and not session.pending:  # frames that came with the reply go out first:
                import select  # the socket will not wake select for them (C module: the run path)

                ready = select.select([session, 0], [], [])[0]
                if 0 in ready:
                    data = os.read(0, 65536)
                    if data:
                        session.send_stdin(data)
                    else:
                        reading_stdin = False
                        session.close_stdin()
                if session not in ready:
                    continue
            frames = session.read()
            if not frames:
                if session.exit_code is not None:
                    return session.exit_code
                err.write(b"vmvc: the engine's spawner went away (stopped or killed) before the process "
                          b"exited: its exit code is unknown\n")  # one line, never a silent 125
                err.flush()
                return 125
            for kind, payload in frames:
                if kind in (1, 2):
                    stream = out if kind == 1 else err
                    stream.write(payload)
                    stream.flush()
            if session.exit_code is not None:  # the spawner sends every output frame before the exit
                return session.exit_code
    finally:
        if restore is not None:
            import termios

            termios.tcsetattr(0, termios.TCSADRAIN, restore)
        session.close()


# -- verbs on existing containers ------------------------------------------------------------------
def _each(names: list[str], fn) -> int:
    """Apply ``fn`` to each container, printing its name like docker; 1 if any failed."""
    code = 0
    for name in names:
        try:
            result = fn(name)
        except VmvcError as e:
            print(f"Error response from daemon: {e}", file=sys.stderr)
            code = 1
            continue
        if result is not False:
            print(name)
    return code


def start(argv: list[str]) -> int:
    """Start one or more stopped containers"""
    p = parser("vmvc start", "Start one or more stopped containers")
    p.add_argument("-a", "--attach", action="store_true", help="attach stdout/stderr")
    p.add_argument("containers", nargs="+")
    a = p.parse_args(argv)
    eng = _engine()
    if a.attach:
        return _pump(eng.start(a.containers[0], attach=True), stdin=False, tty=False)
    return _each(a.containers, lambda c: eng.start(c))


def stop(argv: list[str]) -> int:
    """Stop one or more running containers"""
    p = parser("vmvc stop", "Stop one or more running containers")
    p.add_argument("-t", "--time", "--timeout", type=float, default=10, help="seconds before SIGKILL")
    p.add_argument("containers", nargs="+")
    a = p.parse_args(argv)
    eng = _engine()

    def one(ref):
        rec = eng.get(ref)
        pid = rec.state.get("host_pid") or rec.state.get("pid")  # rootless: the host's view
        name = pid1_ignores(pid, 15) if rec.running and a.time > 0 else None
        if name:
            print(f"vmvc: {ref}: its PID 1 ({name}) has no SIGTERM handler, so the kernel ignores it (as "
                  f"in docker): waiting the {a.time:g} s grace period, then SIGKILL. --init, -t 0 avoid it",
                  file=sys.stderr, flush=True)
        return eng.stop(ref, a.time) or None

    return _each(a.containers, one)


def kill(argv: list[str]) -> int:
    """Kill one or more running containers"""
    p = parser("vmvc kill", "Kill one or more running containers")
    p.add_argument("-s", "--signal", default="KILL", help="signal to send (default KILL)")
    p.add_argument("containers", nargs="+")
    a = p.parse_args(argv)
    from runtime.containers.signals import signal_number

    try:
        signal_number(a.signal)
    except ValueError as e:
        raise VmvcError(str(e)) from None
    eng = _engine()
    return _each(a.containers, lambda c: eng.kill(c, a.signal))


def rm(argv: list[str]) -> int:
    """Remove one or more containers"""
    p = parser("vmvc rm", "Remove one or more containers")
    p.add_argument("-f", "--force", action="store_true", help="kill a running container first")
    p.add_argument("containers", nargs="+")
    a = p.parse_args(argv)
    eng = _engine()
    return _each(a.containers, lambda c: eng.remove(c, force=a.force) and None)


def wait(argv: list[str]) -> int:
    """Block until containers stop, print exit codes"""
    p = parser("vmvc wait", "Block until one or more containers stop, then print their exit codes")
    p.add_argument("containers", nargs="+")
    a = p.parse_args(argv)
    eng = _engine()
    code = 0
    for name in a.containers:
        try:
            print(eng.wait(name), flush=True)
        except VmvcError as e:
            print(f"Error response from daemon: {e}", file=sys.stderr)
            code = 1
    return code


def _ago(stamp: str) -> float:
    import calendar
    import time

    if not stamp or stamp.startswith("0001"):
        return 0.0
    secs = calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S"))
    return max(0.0, time.time() - secs)


def _human(seconds: float) -> str:
    from runtime.units import human_duration

    return human_duration(seconds)


def status_text(rec) -> str:
    s = rec.state
    if rec.status == "running":
        return f"Up {_human(_ago(s.get('started_at', '')))}"
    if rec.status == "exited":
        return f"Exited ({s.get('exit_code', 0)}) {_human(_ago(s.get('finished_at', '')))} ago"
    return "Created"


def ps(argv: list[str]) -> int:
    """List containers"""
    p = parser("vmvc ps", "List containers")
    p.add_argument("-a", "--all", action="store_true", help="show all containers (default: running)")
    p.add_argument("-q", "--quiet", action="store_true", help="only ids")
    p.add_argument("--no-trunc", action="store_true", help="full ids and commands")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("-f", "--filter", action="append", default=[], metavar="KEY=VALUE",
                   help="status=, name=, id=, label=KEY[=VALUE], ancestor= (repeatable)")
    a = p.parse_args(argv)
    wanted: dict[str, list[str]] = {}
    for item in a.filter:
        key, eq, value = item.partition("=")
        if not eq or key not in ("status", "name", "id", "label", "ancestor"):
            raise VmvcError(f"invalid filter '{item}'", exit_code=1)
        wanted.setdefault(key, []).append(value)
    records = _engine().list(all=a.all or "status" in wanted)
    if wanted:  # the daemon's own matcher: one meaning of a filter for both front ends
        from runtime.daemon.api.shapes import container_matches

        records = [r for r in records if container_matches(r, wanted)]
    if a.json:
        from runtime.cli.output import print_json

        print_json(
            [
                {
                    "Id": r.id,
                    "Names": ["/" + r.name],
                    "Image": r.config["image"],
                    "Command": " ".join(r.config["process"]["args"]),
                    "Created": r.config["created"],
                    "State": r.status,
                    "Status": status_text(r),
                    "ExitCode": r.state.get("exit_code", 0),
                    "OOMKilled": r.state.get("oom_killed", False),
                }
                for r in records
            ]
        )
        return 0
    if a.quiet:
        for r in records:
            print(r.id if a.no_trunc else r.id[:12])
        return 0
    rows = [["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "NAMES"]]
    for r in records:
        cmd = " ".join(r.config["process"]["args"])
        if not a.no_trunc and len(cmd) > 20:
            cmd = cmd[:19] + "…"
        rows.append(
            [
                r.id if a.no_trunc else r.id[:12],
                r.config["image"],
                f'"{cmd}"',
                _human(_ago(r.config["created"])) + " ago",
                status_text(r),
                r.name,
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def logs(argv: list[str]) -> int:
    """Fetch the logs of a container"""
    p = parser("vmvc logs", "Fetch the logs of a container")
    p.add_argument("-f", "--follow", action="store_true", help="follow output until the container stops")
    p.add_argument("-n", "--tail", default="all", help="lines from the end (default all)")
    p.add_argument("-t", "--timestamps", action="store_true", help="show timestamps")
    p.add_argument("container")
    a = p.parse_args(argv)
    if a.tail != "all" and not a.tail.lstrip("-").isdigit():
        raise VmvcError(f'invalid value for "--tail": {a.tail}')
    tail = None if a.tail == "all" or int(a.tail) < 0 else int(a.tail)
    from runtime.containers.logs import format_entry

    for entry in _engine().logs(a.container, follow=a.follow, tail=tail):
        stream = sys.stderr.buffer if entry.get("stream") == "stderr" else sys.stdout.buffer
        stream.write(format_entry(entry, a.timestamps))
        stream.flush()
    return 0


def exec_(argv: list[str]) -> int:
    """Run a command in a running container"""
    p = parser("vmvc exec", "Run a command in a running container")
    p.add_argument("-i", "--interactive", action="store_true", help="keep stdin open")
    p.add_argument("-t", "--tty", action="store_true", help="allocate a pseudo-tty")
    p.add_argument("-e", "--env", action="append", default=[], help="set an environment variable")
    p.add_argument("-u", "--user", help="user name or uid[:gid]")
    p.add_argument("-w", "--workdir", help="working directory")
    p.add_argument("container")
    p.add_argument("command", nargs="...")
    a = p.parse_args(argv)
    if not a.command:
        from runtime.errors import UsageError

        raise UsageError("'vmvc exec' requires at least 2 arguments: vmvc exec CONTAINER COMMAND [ARG...]", 1)
    _need_a_terminal(a.interactive and a.tty)
    session = _engine().exec(
        a.container, a.command, env=a.env, user=a.user, workdir=a.workdir, tty=a.tty, stdin=a.interactive
    )
    return _pump(session, stdin=a.interactive, tty=a.tty)


def _format(template: str, data) -> str:
    """The ``{{.State.Status}}`` subset of docker's ``--format``."""
    import json
    import re

    def field(m):
        value = data
        for part in m.group(1).strip().lstrip(".").split("."):
            if part:
                value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, (dict, list)):
            return json.dumps(value)
        if isinstance(value, bool):
            return str(value).lower()
        return "<no value>" if value is None else str(value)

    return re.sub(r"\{\{\s*(?:json\s+)?([^}]*)\}\}", field, template)


def _image_inspect(ref: str) -> dict | None:
    if ENGINE is not None:
        return ENGINE.image_inspect(ref)
    from runtime.images import open_store, shapes

    store = open_store()
    image = store.find(ref)
    return shapes.inspect(store, image) if image is not None else None


def inspect(argv: list[str]) -> int:
    """Low-level information on containers"""
    p = parser("vmvc inspect", "Low-level information on containers")
    p.add_argument("-f", "--format", help="a {{.Path.To.Field}} template")
    p.add_argument("containers", nargs="+")
    a = p.parse_args(argv)
    eng = _engine()
    found, code = [], 0
    for name in a.containers:
        try:
            found.append(eng.inspect(name))
        except NotFound:
            image = _image_inspect(name)  # docker's inspect tries containers, then images
            if image is None:
                print(f"Error: No such object: {name}", file=sys.stderr)
                code = 1
            else:
                found.append(image)
    if a.format:
        for item in found:
            print(_format(a.format, item))
    else:
        from runtime.cli.output import print_json

        print_json(found)
    return code


def stats(argv: list[str]) -> int:
    """Resource usage of containers"""
    p = parser("vmvc stats", "A live stream of containers' resource usage (as docker stats)")
    p.add_argument("-a", "--all", action="store_true", help="all containers (default: running)")
    p.add_argument("--no-stream", action="store_true", help="print one sample and exit")
    p.add_argument("--json", action="store_true", help="machine-readable output (one sample)")
    p.add_argument("containers", nargs="*")
    a = p.parse_args(argv)
    eng = _engine()
    names = a.containers or [r.id for r in eng.list(all=a.all)]
    for n in names:
        eng.get(n)  # a bad name fails now, in docker's words
    if a.json or a.no_stream:
        rows = _sample(eng, names)
        if a.json:
            from runtime.cli.output import print_json

            print_json(rows)
        else:
            _print_stats(rows)
        return 0
    clear = "\x1b[2J\x1b[H" if sys.stdout.isatty() else ""
    while True:  # like docker: refresh until Ctrl-C, or until no container is left running
        rows = _sample(eng, names)
        sys.stdout.write(clear)
        _print_stats(rows)
        sys.stdout.flush()
        if not any(r["running"] for r in rows):
            return 0
        if not a.containers:
            names = [r.id for r in eng.list(all=a.all)]


def _sample(eng, names: list[str], seconds: float = 0.5) -> list[dict]:
    """One stats row per container, CPU % over ``seconds`` (100% = one core)."""
    import time

    def sample(n):
        try:
            return {**eng.stats(n), "running": eng.get(n).running}
        except NotFound:  # removed meanwhile (--rm)
            return None

    first = {n: sample(n) for n in names}
    time.sleep(seconds)
    rows = []
    for n in names:
        s = sample(n)
        if s is None or first[n] is None:
            continue
        cpu = 100.0 * (s["cpu_usage_ns"] - first[n]["cpu_usage_ns"]) / (seconds * 1e9)
        rows.append({**s, "cpu_percent": round(max(0.0, cpu), 2)})
    return rows


def _host_memory() -> int:
    """MemTotal: what docker shows as the limit of a container without one."""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def _print_stats(rows: list[dict]) -> None:
    from runtime.cli.output import binary_size

    print(f"{'CONTAINER ID':<15}{'NAME':<24}{'CPU %':<9}{'MEM USAGE / LIMIT':<22}{'MEM %':<9}PIDS")
    host = _host_memory()
    for r in rows:
        limit = r["memory_limit"] or host
        usage = f"{binary_size(r['memory_usage'])} / {binary_size(limit)}"
        percent = 100.0 * r["memory_usage"] / limit if limit else 0.0
        print(f"{r['id'][:12]:<15}{r['name'][:23]:<24}{r['cpu_percent']:.2f}%".ljust(48)
              + f"{usage:<22}{percent:.2f}%".ljust(31) + f"{r['pids']}")


def prune(argv: list[str]) -> int:
    """Remove all stopped containers"""
    parser("vmvc container prune", "Remove all stopped containers").parse_args(argv)
    for cid in remove_stopped(_engine()):
        print(cid)
    return 0


def remove_stopped(eng) -> list[str]:
    """Remove every container that is not running; their ids."""
    removed = []
    for r in eng.list(all=True):
        if not r.running:
            eng.remove(r.id)
            removed.append(r.id)
    return removed


def container(argv: list[str]) -> int:
    """Manage containers"""
    from runtime.cli.dispatch import subcommands

    here = "runtime.cli.containers"
    table = {
        "run": (f"{here}:run", "Create and run a new container"),
        "create": (f"{here}:create", "Create a new container"),
        "start": (f"{here}:start", "Start containers"),
        "stop": (f"{here}:stop", "Stop containers"),
        "kill": (f"{here}:kill", "Kill containers"),
        "rm": (f"{here}:rm", "Remove containers"),
        "ls": (f"{here}:ps", "List containers"),
        "ps": (f"{here}:ps", "List containers"),
        "wait": (f"{here}:wait", "Wait for containers to stop"),
        "logs": (f"{here}:logs", "Fetch logs"),
        "exec": (f"{here}:exec_", "Run a command inside"),
        "inspect": (f"{here}:inspect", "Inspect containers"),
        "stats": (f"{here}:stats", "Usage"),
        "prune": (f"{here}:prune", "Remove all stopped containers"),
    }
    return subcommands("vmvc container", argv, table)
