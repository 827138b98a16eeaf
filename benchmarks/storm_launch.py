"""Many instances at once: QEMU guests and ``vmvc run`` clients spawned together, their output stamped.

Why not :func:`runtime.vm.qemu.run` in threads: a storm needs N guests started within milliseconds of
each other, one clock for all of them, and a single place that kills every QEMU on Ctrl-C. So a
:class:`Fleet` spawns each instance from the calling thread (own process group, parent-death signal),
reads every console in one ``select`` loop, stamps each line with the arrival of its first byte (as
the launcher does) and samples each process's CPU time as its output arrives, so a VM's boot phases
get their CPU seconds (a stage's CPU share is what the model needs). ``close`` SIGKILLs every process
group left: a storm interrupted at any point leaves nothing running.

The suites' three users: ``storm`` (N guests or N ``vmvc run`` processes at once), ``footprint``
(N guests kept running while their memory is read) and ``workload`` (one guest running the workload).
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field

READY = "VMVC-READY"  # the line an instance's workload prints when it has run
TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int, children: bool = False) -> float | None:
    """User + system CPU seconds of ``pid`` so far (with ``children``: plus its reaped children's);
    None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return sum(int(x) for x in fields[11 : 15 if children else 13]) / TICK
    except (OSError, IndexError, ValueError):
        return None


def rollup_kib(pid: int, key: str = "Pss") -> int:
    """One field (kB) of ``/proc/<pid>/smaps_rollup``; 0 when the process is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def hwm_kib(pid: int) -> int:
    """Peak resident set (VmHWM, kB) of ``pid`` so far; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def mem_available_kib() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    return 0


def vmvc_cli() -> list[str]:
    """The ``vmvc`` installed next to this interpreter (the launcher users run), else ``-m runtime.cli``."""
    exe = os.path.join(os.path.dirname(sys.executable), "vmvc")
    return [exe] if os.access(exe, os.X_OK) else [sys.executable, "-m", "runtime.cli"]


def guest_kernel():
    """The kernel the VM suites boot: ``$VMVC_BENCH_KERNEL`` (a file, as for the other suites) if set,
    else the cache (fetched once when there is none, as ``vmvc vm boot`` does)."""
    from benchmarks.suites._vm import KERNEL_ENV
    from runtime.vm import kernel

    path = os.environ.get(KERNEL_ENV)
    if path:
        return kernel.from_path(path)
    kernel.ensure_available(
        lambda: print("no guest kernel cached: fetching the Debian cloud kernel", file=sys.stderr)
    )
    return kernel.resolve(None)


@dataclass
class Instance:
    kind: str  # "vm" or "container"
    proc: subprocess.Popen
    t0: float  # time.monotonic() at spawn
    lines: list = field(default_factory=list)  # runtime.vm.timeline.Line, t relative to t0
    cpu: dict = field(default_factory=dict)  # arrival t -> CPU seconds of the process then
    ready: float | None = None  # seconds after t0 when the READY line arrived
    exit: float | None = None
    error: str = ""
    splitter: object = None

    @property
    def texts(self) -> list[str]:
        return [ln.text for ln in self.lines]

    def cpu_at(self, t: float) -> float:
        """The process's CPU seconds at the last sample taken at or before ``t`` (0 before any)."""
        best = 0.0
        for when, value in self.cpu.items():
            if when <= t + 1e-9:
                best = max(best, value)
        return best


class Fleet:
    """``with Fleet() as f: f.vm(spec); f.container(argv); f.wait("ready")`` — nothing outlives it."""

    def __init__(self) -> None:
        self.items: list[Instance] = []

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _spawn(self, kind: str, argv: list[str], env: dict | None = None) -> Instance:
        from runtime.vm import qemu, timeline

        preexec = qemu._deathsig()
        t0 = time.monotonic()
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=preexec,
            env=env,
        )
        os.set_blocking(proc.stdout.fileno(), False)
        inst = Instance(kind, proc, t0, splitter=timeline.LineSplitter())
        self.items.append(inst)
        return inst

    def vm(self, spec) -> Instance:
        """Spawn one QEMU guest (a :class:`runtime.vm.qemu.Spec`)."""
        from runtime.vm import qemu

        if shutil.which(qemu.QEMU) is None:
            raise RuntimeError(f"{qemu.QEMU} not found")
        return self._spawn("vm", qemu.command(spec))

    def container(self, argv: list[str], env: dict | None = None) -> Instance:
        """Spawn one client process (``vmvc run ...``) whose output marks its container's progress."""
        return self._spawn("container", argv, env)

    def wait(self, until: str = "exit", timeout: float = 300.0, coalesce: float = 0.001, tick=None) -> None:
        """Read every output until each instance has printed READY (``until="ready"``) or exited;
        ``tick()`` is called at least every 0.1 s meanwhile. Raises RuntimeError (after which ``close``
        kills everything) on a timeout, a guest kernel panic or a KVM internal error."""
        from runtime.vm import qemu

        deadline = time.monotonic() + timeout
        while True:
            live = {i.proc.stdout.fileno(): i for i in self.items if i.exit is None and not i.error}
            pending = [i for i in live.values() if until == "exit" or i.ready is None]
            if not pending:
                gone = [i for i in self.items if until == "ready" and i.ready is None]
                if gone:
                    raise RuntimeError(
                        f"{len(gone)} instance(s) ended before their ready line: "
                        f"{(gone[0].texts or ['(no output)'])[-1][:160]}"
                    )
                return
            if tick:
                tick()
            now = time.monotonic()
            if now > deadline:
                raise RuntimeError(
                    f"{len(pending)} of {len(self.items)} instances not done after "
                    f"{timeout:g} s; last line: {(pending[0].texts or ['(none)'])[-1][:120]}"
                )
            ready, _, _ = select.select(list(live), [], [], min(0.1 if tick else 1.0, deadline - now))
            if not ready:
                continue
            now = time.monotonic()  # the first byte's arrival
            if coalesce:
                time.sleep(coalesce)  # a UART trickles byte by byte: batch, stamp the first byte
            for fd in ready:
                inst = live[fd]
                arrived = now - inst.t0
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    continue
                cpu = proc_cpu(inst.proc.pid)
                if cpu is not None:
                    inst.cpu[arrived] = cpu
                if not data:
                    inst.proc.wait()
                    inst.exit = time.monotonic() - inst.t0
                    new = inst.splitter.flush()
                else:
                    new = inst.splitter.feed(arrived, data)
                for ln in new:
                    inst.lines.append(ln)
                    if ln.text.strip() == READY and inst.ready is None:
                        inst.ready = ln.t
                    if qemu.KVM_ERROR in ln.text or qemu.PANIC in ln.text:
                        raise RuntimeError(f"guest failed at {ln.t:.1f} s: {ln.text[:160]}")
                if inst.exit is not None and inst.proc.returncode not in (0, None) and inst.ready is None:
                    raise RuntimeError(
                        f"{inst.kind} exited with {inst.proc.returncode}: "
                        f"{(inst.texts or ['(no output)'])[-1][:160]}"
                    )

    def close(self) -> None:
        from runtime.vm import qemu

        for inst in self.items:
            qemu.kill_group(inst.proc)
            if inst.proc.stdout:
                inst.proc.stdout.close()


def timeline_of(inst: Instance, info: dict | None = None):
    """A guest's phase timeline (:mod:`runtime.vm.timeline`) from its stamped console lines."""
    from runtime.vm import timeline

    end = inst.exit if inst.exit is not None else (inst.lines[-1].t if inst.lines else 0.0)
    return timeline.build(inst.lines, end, end, info=dict(info or {}))


def phase_cpu(inst: Instance, tl) -> dict[str, float]:
    """CPU seconds QEMU used during each phase of ``tl`` (keyed by the records' stage slug)."""
    from sim.records import slug

    return {slug(p.name): max(0.0, inst.cpu_at(p.end) - inst.cpu_at(p.start)) for p in tl.phases}


def standalone(suite, argv: list[str] | None = None) -> int:
    """``python -m benchmarks.suites.<name>``: run one suite through the contract without ``vmvc bench``
    and print its summaries, notes and claim rows (``--json`` writes them, ``--chart`` draws the chart)."""
    import argparse
    import json
    import shutil
    import tempfile
    from dataclasses import asdict

    from benchmarks.suite import Results, SuiteContext

    p = argparse.ArgumentParser(
        prog=f"python -m benchmarks.suites.{suite.NAME}",
        description=(suite.__doc__ or suite.TITLE).splitlines()[0],
    )
    p.add_argument("--full", action="store_true", help="the --full plan (default: --quick)")
    p.add_argument("--json", metavar="PATH", help="write samples, summaries, facts, notes and claims")
    p.add_argument("--chart", metavar="PNG", help="draw the suite's chart")
    p.add_argument("--save-profile", metavar="DIR", help="storm: also save the fitted profile into DIR")
    a = p.parse_args(argv)
    workdir = tempfile.mkdtemp(prefix=f"vmvc-bench-{suite.NAME}-")
    ctx = SuiteContext(suite.NAME, quick=not a.full, workdir=workdir)
    started = time.monotonic()
    try:
        suite.run(ctx)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    res = Results(ctx.samples, {suite.NAME: ctx.facts})
    print(f"{suite.TITLE} ({'full' if a.full else 'quick'}, {time.monotonic() - started:.0f} s)")
    for s in sorted(res.summaries(suite.NAME), key=lambda s: (s.method, s.metric, sorted(s.labels.items()))):
        labels = " ".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
        print(
            f"  {s.method:22} {s.metric:22} {labels:22} median {s.median:10.4g} {s.unit:4} "
            f"IQR {s.q1:.4g}–{s.q3:.4g}  n={s.n}"
        )
    for note in ctx.notes:
        print(f"  note: {note}")
    rows = suite.claims(res)
    for row in rows:
        print(f"  {row.id}: {row.verdict} — {row.measured}" + (f" [{row.reason}]" if row.reason else ""))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(
                {
                    "samples": [asdict(s) for s in ctx.samples],
                    "facts": {suite.NAME: ctx.facts},
                    "notes": {suite.NAME: ctx.notes},
                    "claims": [asdict(r) for r in rows],
                },
                f,
                indent=1,
                default=str,
            )
    if a.chart and hasattr(suite, "chart"):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 5))
        suite.chart(res, ax)
        fig.savefig(a.chart, dpi=110, bbox_inches="tight")
        plt.close(fig)
    if a.save_profile and "profile" in ctx.facts:
        from sim.profiles import save_profile

        print(f"  profile saved: {save_profile(ctx.facts['profile'], a.save_profile)}")
    return 0
