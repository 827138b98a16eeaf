"""Container start-up: vmvc's engine against crun, runc, plain unshare and fork+exec, side by side.

Every method runs ``/bin/true``; the container methods use the same busybox rootfs (vmvc mounts it as
an overlay lower layer with a fresh upper dir; crun and runc get the layer directory as a read-only
root). Rounds are interleaved (one run of each method per round, in a rotating order) so the noise of
a shared host hits every method alike; medians and ratios of medians are reported.

Methods:

* ``fork_exec`` -- ``posix_spawn`` + ``waitpid`` of the host's ``/bin/true``: the physical floor.
* ``unshare`` -- ``unshare --pid --fork --mount --uts --ipc --net /bin/true`` (util-linux).
* ``crun`` / ``runc`` -- ``crun run`` / ``runc run`` of an OCI bundle with pid, net, ipc, uts, mount
  and cgroup namespaces. crun refuses this host's hybrid cgroups unless the empty v2 mount is
  unmounted in a private mount namespace (docs/host-facts.md), so crun is started from a helper process
  that did exactly that once: the timed part is only crun itself.
* ``engine`` -- :meth:`runtime.containers.Engine.run` with ``--rm`` from this process: all namespaces
  (pid, mnt, uts, ipc, net, cgroup), a cgroup, an overlay rootfs, ``pivot_root``, docker's masked
  paths, capabilities and ``no_new_privs``; the container is created, started, waited for and removed.
* ``cli`` -- ``vmvc run --rm busybox /bin/true`` as a whole new CLI process (interpreter start
  included), with bytecode compiled as an installed package would have it: the ``vmvc`` installed
  next to this interpreter, whichever launcher it is.
* ``cli_launcher`` -- the same through :mod:`runtime.cli.launcher` (``python -S``, ``site`` only when
  an import needs it, no interpreter teardown), written to a temp dir for the run.
* ``cli_console`` -- the same through a pip-style console script for ``runtime.cli.launcher:console``
  (``site`` as usual, no interpreter teardown).
* ``python_startup`` / ``python_nosite`` -- ``python -c pass`` with and without ``-S``: how much of
  ``cli`` is the interpreter starting.

Run it: ``python -m benchmarks.startup --runs 21 --json startup.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from benchmarks.suite import SuiteContext

ANCHORS_MS = {"fork_exec": 0.9, "unshare": 4.0, "crun": (11, 14), "runc": (43, 55), "docker_run": 243}
TARGETS = {"engine_vs_crun": 0.7, "cli_vs_crun": 2.0, "cli_launcher_vs_crun": 2.0, "cli_console_vs_crun": 2.0}
NAMESPACES = ["pid", "network", "ipc", "uts", "mount", "cgroup"]


def host() -> dict:
    with open("/proc/cpuinfo") as f:
        model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    return {
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "cpu": model,
        "loadavg_1m": float(load),
        "python": platform.python_version(),
    }


def _spawn_wait(argv: list[str], env: dict | None = None) -> float:
    """Seconds from posix_spawn to the child's exit (output discarded)."""
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        t = time.perf_counter()
        quiet = [(os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)]
        pid = os.posix_spawn(argv[0], argv, env if env is not None else os.environ, file_actions=quiet)
        try:
            _, status = os.waitpid(pid, 0)
        except BaseException:  # Ctrl-C: leave no child running
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise
        elapsed = time.perf_counter() - t
    finally:
        os.close(devnull)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{argv[0]} failed with status {status}")
    return elapsed


def oci_bundle(rootfs: str, where: str) -> str:
    """An OCI bundle running ``/bin/true`` in ``rootfs`` (read-only): crun's own default ``config.json``
    (``crun spec``: its mounts, masked paths and capabilities) plus a cgroup namespace, as a user would
    run it, so crun does the same kind of work the engine does."""
    bundle = os.path.join(where, "bundle")
    os.makedirs(bundle, exist_ok=True)
    crun = shutil.which("crun")
    if crun:
        subprocess.run([crun, "spec"], cwd=bundle, check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(bundle, "config.json")) as f:
            config = json.load(f)
    else:  # runc only: its spec has the same shape
        subprocess.run([shutil.which("runc") or "runc", "spec"], cwd=bundle, check=True)
        with open(os.path.join(bundle, "config.json")) as f:
            config = json.load(f)
    config["root"] = {"path": rootfs, "readonly": True}
    config["process"]["terminal"] = False
    config["process"]["args"] = ["/bin/true"]
    config["hostname"] = "bench"
    kinds = {ns["type"] for ns in config["linux"]["namespaces"]}
    config["linux"]["namespaces"] += [{"type": t} for t in NAMESPACES if t not in kinds]
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(config, f)
    return bundle


class CrunHelper:
    """A child in a private mount namespace without the empty cgroup2 mount, timing crun on request."""

    def __init__(self, crun: str, bundle: str) -> None:
        self.req_r, self.req_w = os.pipe()
        self.res_r, self.res_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            try:
                os.close(self.req_w)
                os.close(self.res_r)
                self._serve(crun, bundle)
            finally:
                os._exit(0)
        os.close(self.req_r)
        os.close(self.res_w)

    def _serve(self, crun: str, bundle: str) -> None:
        from runtime.linux.syscalls import CLONE_NEWNS, MNT_DETACH, MS_PRIVATE, MS_REC, syscalls

        sys_ = syscalls()
        sys_.unshare(CLONE_NEWNS)
        sys_.mount(None, "/", None, MS_REC | MS_PRIVATE)
        if os.path.ismount("/sys/fs/cgroup/unified"):
            sys_.umount("/sys/fs/cgroup/unified", MNT_DETACH)
        n = 0
        while os.read(self.req_r, 1):
            n += 1
            try:
                elapsed = _spawn_wait([crun, "run", "--bundle", bundle, f"vmvc-bench-{os.getpid()}-{n}"])
                os.write(self.res_w, f"{elapsed:.9f}\n".encode())
            except Exception as e:  # report, keep serving
                os.write(self.res_w, f"error {e}\n".encode())

    def run(self) -> float:
        os.write(self.req_w, b"x")
        line = b""
        while not line.endswith(b"\n"):
            line += os.read(self.res_r, 256)
        text = line.decode().strip()
        if text.startswith("error"):
            raise RuntimeError(f"crun: {text}")
        return float(text)

    def close(self) -> None:
        os.close(self.req_w)
        os.waitpid(self.pid, 0)
        os.close(self.res_r)


@contextlib.contextmanager
def private_root(prefix: str):
    """A throw-away ``$VMVC_ROOT`` (temp dir) for one measurement, restored and deleted afterwards."""
    root = tempfile.mkdtemp(prefix=prefix)
    old_root = os.environ.get("VMVC_ROOT")
    os.environ["VMVC_ROOT"] = root
    try:
        yield root
    finally:
        if old_root is None:
            os.environ.pop("VMVC_ROOT", None)
        else:
            os.environ["VMVC_ROOT"] = old_root
        shutil.rmtree(root, ignore_errors=True)


def _cli_env(root: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["VMVC_ROOT"] = root
    return env


def _compile_bytecode() -> None:
    """Write .pyc files for the runtime package, as ``pip install`` would (a dev env may disable it)."""
    import runtime

    pkg = os.path.dirname(runtime.__file__)
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", pkg],
        env=_cli_env(""),
        check=False,
        stdout=subprocess.DEVNULL,
    )


class Methods:
    """Every start-up method, set up once and ready to time: ``methods.table[name]()`` starts one
    ``/bin/true`` and returns the seconds it took. Shared by this harness and ``vmvc bench``'s startup
    suite. Setting up warms the engine's spawner (and creates the busybox image), writes the OCI bundle,
    the launchers and the crun helper; :meth:`close` stops the helper and the engine's spawner."""

    CLI = ("cli", "cli_launcher", "cli_console", "python_startup", "python_nosite")

    def __init__(self, root: str, wanted: list[str] | None = None) -> None:
        self.helper: CrunHelper | None = None
        self.engine = None
        self.table: dict = {}
        try:
            self._setup(root, wanted)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Methods:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _setup(self, root: str, wanted: list[str] | None) -> None:
        from runtime.containers import Engine, Spec
        from runtime.images import open_store

        def want(name: str) -> bool:
            return wanted is None or name in wanted

        self.engine = engine = Engine()
        spec = Spec("busybox", ["/bin/true"], auto_remove=True)
        engine.run(spec)  # starts the spawner, creates the busybox image
        self.rootfs = open_store().resolve("busybox").layer_dirs[0]
        crun, runc, unshare = shutil.which("crun"), shutil.which("runc"), shutil.which("unshare")
        true = shutil.which("true") or "/bin/true"
        cli_env = _cli_env(root)

        def engine_run():
            t = time.perf_counter()
            r = engine.run(spec)
            if r.exit_code != 0:
                raise RuntimeError(f"engine run exited {r.exit_code}")
            return time.perf_counter() - t

        table = {"fork_exec": lambda: _spawn_wait([true]), "engine": engine_run}
        if any(want(m) for m in self.CLI):
            from runtime.cli.launcher import console_script, install

            vmvc = os.path.join(os.path.dirname(sys.executable), "vmvc")
            launcher = install(os.path.join(root, "vmvc"))
            console = install(os.path.join(root, "vmvc-console"), text=console_script(sys.executable))
            _compile_bytecode()
            table.update({
                "cli": lambda: _spawn_wait([vmvc, "run", "--rm", "busybox", "/bin/true"], cli_env),
                "cli_launcher": lambda: _spawn_wait([launcher, "run", "--rm", "busybox", "/bin/true"],
                                                    cli_env),
                "cli_console": lambda: _spawn_wait([console, "run", "--rm", "busybox", "/bin/true"], cli_env),
                "python_startup": lambda: _spawn_wait([sys.executable, "-c", "pass"], cli_env),
                "python_nosite": lambda: _spawn_wait([sys.executable, "-S", "-c", "pass"], cli_env),
            })
        if unshare:
            table["unshare"] = lambda: _spawn_wait(
                [unshare, "--pid", "--fork", "--mount", "--uts", "--ipc", "--net", true]
            )
        if (crun or runc) and (want("crun") or want("runc")):
            bundle = oci_bundle(self.rootfs, root)
            if crun and want("crun"):
                self.helper = CrunHelper(crun, bundle)
                table["crun"] = self.helper.run
            if runc and want("runc"):
                runc_id = f"vmvc-bench-runc-{os.getpid()}"
                table["runc"] = lambda: _spawn_wait([runc, "run", "--bundle", bundle, runc_id])
        self.table = {m: f for m, f in table.items() if want(m)}

    def close(self) -> None:
        helper, engine, self.helper, self.engine = self.helper, self.engine, None, None
        try:
            if helper is not None:
                helper.close()
        finally:
            if engine is not None:
                engine.shutdown()


def measure(*args, **kw) -> dict:
    """See :func:`_measure`; runs on a private ``$VMVC_ROOT``."""
    with private_root("vmvc-bench-startup-") as root:
        return _measure(root, *args, **kw)


def _measure(
    root: str,
    runs: int = 15,
    methods: list[str] | None = None,
    warmup: int = 2,
    idle_runs: int = 5,
    idle_gap: float = 1.0,
) -> dict:
    """Interleaved rounds of every available method; medians (ms) and ratios against crun. Then
    ``idle_runs`` starts of the engine and crun each after ``idle_gap`` s of quiet, when a cgroup
    move costs an RCU grace period (crun pays it; the engine's stem paid it in advance)."""
    with Methods(root, methods) as setup:
        table = setup.table
        chosen = [m for m in (methods or list(table)) if m in table]
        samples: dict[str, list[float]] = {m: [] for m in chosen}
        for r, m in SuiteContext.rounds(chosen, runs, warmup):
            elapsed = table[m]()
            if r >= 0:
                samples[m].append(elapsed * 1000)
        idle: dict[str, list[float]] = {m: [] for m in ("engine", "crun") if m in table and m in chosen}
        for _ in range(idle_runs):  # after a pause: the first cgroup move waits for an RCU grace period
            for m in idle:
                time.sleep(idle_gap)
                idle[m].append(table[m]() * 1000)
        medians = {m: statistics.median(v) for m, v in samples.items() if v}
        ratios = {}
        if "crun" in medians:
            for m in medians:
                if m != "crun":
                    ratios[f"{m}_vs_crun"] = medians[m] / medians["crun"]
        return {
            "host": host(),
            "runs": runs,
            "median_ms": medians,
            "min_ms": {m: min(v) for m, v in samples.items() if v},
            "samples_ms": samples,
            "after_idle_median_ms": {m: statistics.median(v) for m, v in idle.items() if v},
            "idle_gap_s": idle_gap,
            "ratios": ratios,
            "targets": TARGETS,
            "met": {k: ratios[k] <= v for k, v in TARGETS.items() if k in ratios},
            "anchors_ms": ANCHORS_MS,
        }


def report(result: dict) -> str:
    med = result["median_ms"]
    lines = [
        f"container start, median of {result['runs']} interleaved runs (ms), "
        f"{result['host']['cpus']} CPUs, load {result['host']['loadavg_1m']}:"
    ]
    shown = ("fork_exec", "unshare", "engine", "crun", "cli", "cli_launcher", "cli_console")
    for m in (*shown, "python_startup", "python_nosite", "runc"):
        if m in med:
            ratio = result["ratios"].get(f"{m}_vs_crun")
            lines.append(f"  {m:15} {med[m]:8.2f}" + (f"   {ratio:5.2f}x crun" if ratio else ""))
    for m, v in result.get("after_idle_median_ms", {}).items():
        lines.append(
            f"  {m + ' after idle':15} {v:8.2f}   (a start after {result['idle_gap_s']:.1f} s of quiet)"
        )
    for k, ok in result["met"].items():
        lines.append(f"  target {k} <= {result['targets'][k]}: {'met' if ok else 'NOT met'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.startup", description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--methods", help="comma-separated subset")
    p.add_argument("--idle-runs", type=int, default=5, help="starts after a pause, per method (default 5)")
    p.add_argument("--json", help="write the result to this file")
    a = p.parse_args(argv)
    methods = a.methods.split(",") if a.methods else None
    return emit(measure(a.runs, methods, idle_runs=a.idle_runs), report, a.json)


def emit(result: dict, report_fn, json_path: str | None) -> int:
    """Print a suite's report; write its data as JSON if asked (the benchmark CLI reads those files)."""
    print(report_fn(result))
    if json_path:
        with open(json_path, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
