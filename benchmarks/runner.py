"""Find the suites, decide which this host can run, run them one after the other, collect the results.

Suites are the modules of ``benchmarks/suites/`` (see :mod:`benchmarks.suite` for the contract). A module
that fails to import, or whose ``run`` raises, is listed as *failed* with its one-line error; the run goes
on. A suite whose ``NEEDS`` the doctor does not find usable is *skipped* with the doctor's reason. Ctrl-C
(or SIGTERM) stops the suite that is running -- its own ``finally`` blocks stop what it started -- keeps
every sample measured so far and marks the results *partial*; further Ctrl-Cs are ignored until the
partial report is written, so that clean-up cannot be cut short.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pkgutil
import platform
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType

from benchmarks.suite import NotMeasured, Results, RunScope, SuiteContext

# The report's order; suites not named here follow alphabetically.
ORDER = ("startup", "phases", "footprint", "workload", "storm", "fromnothing", "pull", "mirror", "daemon")


def one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return f"{type(e).__name__}: {text}"[:300]


@dataclass
class SuiteInfo:
    """A discovered suite: its module (None when it failed to import) and what it declares."""

    name: str
    module: ModuleType | None
    title: str = ""
    needs: list[str] = field(default_factory=list)
    claims: list[str] = field(default_factory=list)
    error: str = ""  # why it could not be imported
    budget: dict = field(default_factory=dict)  # {"quick": s, "full": s}: the suite's time budget

    def budget_for(self, quick: bool) -> float | None:
        return self.budget.get("quick" if quick else "full")

    def skip_reason(self, doctor) -> str:
        """The doctor's reason for the first capability this host lacks ('' when all are usable)."""
        for need in self.needs:
            if not doctor.ready(need):
                return doctor.reason(need)
        return ""


def discover(package: str = "benchmarks.suites") -> dict[str, SuiteInfo]:
    """Every suite module of ``package`` (``_private`` modules excluded), in report order."""
    pkg = importlib.import_module(package)
    found: dict[str, SuiteInfo] = {}
    for m in pkgutil.iter_modules(pkg.__path__):
        if m.name.startswith("_"):
            continue
        try:
            mod = importlib.import_module(f"{package}.{m.name}")
            if not callable(getattr(mod, "run", None)):
                raise TypeError("the module has no run(ctx)")
        except Exception as e:  # a broken suite is reported, never fatal
            found[m.name] = SuiteInfo(m.name, None, m.name, error=one_line(e))
            continue
        name = getattr(mod, "NAME", m.name)
        found[name] = SuiteInfo(name, mod, getattr(mod, "TITLE", name), list(getattr(mod, "NEEDS", [])),
                                list(getattr(mod, "CLAIMS", [])), budget=dict(getattr(mod, "BUDGET", {})))
    rank = {n: i for i, n in enumerate(ORDER)}
    return dict(sorted(found.items(), key=lambda kv: (rank.get(kv[0], len(ORDER)), kv[0])))


def host_metadata(doctor) -> dict:
    """What the report says about the host: kernel, CPU, memory, cgroup layout, accelerator and its
    reason, tool versions, load, all from the doctor (and /proc)."""
    def data(name: str) -> dict:
        c = doctor.get(name)
        return c.data if c else {}

    cpu = "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")
    mem_kib = 0
    with contextlib.suppress(OSError, StopIteration), open("/proc/meminfo") as f:
        mem_kib = int(next(ln for ln in f if ln.startswith("MemTotal")).split()[1])
    accel = {"accel": "none", "reason": "qemu is not usable here"}
    if doctor.ready("qemu"):
        try:
            from runtime.vm import accel as accel_mod

            d = accel_mod.decide("auto")
            accel = {"accel": d.accel, "reason": d.reason}
        except Exception as e:
            accel = {"accel": "unknown", "reason": one_line(e)}
    cg = doctor.get("cgroups")
    tools = {c.name: c.data.get("version", "") for c in doctor.checks if c.group in ("tools", "vm")
             and c.usable and c.data.get("version")}
    return {
        "os": data("os").get("name", platform.system()),
        "kernel": data("os").get("kernel", platform.release()),
        "cpu": cpu, "cpus": os.cpu_count(), "mem_total_mib": mem_kib // 1024,
        "python": platform.python_version(), "loadavg": list(os.getloadavg()),
        "cgroups": {"layout": (cg.data.get("layout") if cg else None), "evidence": cg.evidence if cg else ""},
        "kvm": doctor.reason("kvm"), "kvm_hw": doctor.reason("kvm.hw"), "accelerator": accel,
        "tools": tools, "doctor": {c.name: c.verdict for c in doctor.checks},
    }


class _Interrupts:
    """SIGINT/SIGTERM raise KeyboardInterrupt once; later ones are ignored until :meth:`restore`."""

    def __init__(self) -> None:
        self.hit = False
        self.old: dict = {}

    def __enter__(self) -> _Interrupts:
        if threading_main():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.old[sig] = signal.signal(sig, self._handler)
        return self

    def _handler(self, signum, frame) -> None:
        if self.hit:
            print("vmvc bench: stopping, cleaning up (please wait)", file=sys.stderr)
            return
        self.hit = True
        raise KeyboardInterrupt

    def restore(self) -> None:
        for sig, old in self.old.items():
            signal.signal(sig, old)
        self.old = {}

    def __exit__(self, *exc) -> None:
        self.restore()


def threading_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def run(selected: list[str] | None = None, quick: bool = True, suites: dict[str, SuiteInfo] | None = None,
        doctor=None, progress=None, say: Callable[[str], None] | None = None, meta: dict | None = None,
        ) -> Results:
    """Run the ``selected`` suites (all when None) and return the results, claims not yet merged.

    ``progress`` is a :class:`benchmarks.progress.Bars`-like object (``task``/``suite``), or None.
    """
    from runtime.doctor import host

    doctor = doctor or host()
    suites = suites if suites is not None else discover()
    say = say or (lambda text: None)
    res = Results()
    res.host = host_metadata(doctor)
    res.meta = {"mode": "quick" if quick else "full", "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "selected": selected, **(meta or {})}
    names = [n for n in suites if selected is None or n in selected]
    started = time.perf_counter()
    scope = RunScope()  # what the suites of this run share (the VM boots they made)
    with _Interrupts() as interrupts:
        try:
            for i, name in enumerate(names):
                if interrupts.hit:
                    break
                info = suites[name]
                entry = res.suites[name] = {"title": info.title, "claims": info.claims, "status": "pending",
                                            "reason": "", "seconds": 0.0}
                if info.module is None:
                    entry.update(status="failed", reason=f"import failed: {info.error}")
                    say(f"{name}: failed to import: {info.error}")
                    continue
                why = info.skip_reason(doctor)
                if why:
                    entry.update(status="skipped", reason=why)
                    say(f"{name}: skipped: {why}")
                    continue
                _run_one(info, entry, res, quick, progress, say, interrupts, f"[{i + 1}/{len(names)}]",
                         scope)
        except KeyboardInterrupt:  # between suites
            interrupts.hit = True
        for name in names:
            entry = res.suites.setdefault(name, {"title": suites[name].title, "claims": suites[name].claims,
                                                 "status": "pending", "reason": "", "seconds": 0.0})
            if entry["status"] == "pending":
                entry.update(status="not run", reason="interrupted (Ctrl-C) before it started")
    res.partial = interrupts.hit
    res.meta["wall_seconds"] = round(time.perf_counter() - started, 2)
    res.host["loadavg_after"] = list(os.getloadavg())
    return res


def _run_one(info: SuiteInfo, entry: dict, res: Results, quick: bool, progress, say, interrupts,
             counter: str, scope: RunScope | None = None) -> None:
    name = info.name
    workdir = tempfile.mkdtemp(prefix=f"vmvc-bench-{name}-")
    ctx = SuiteContext(name, quick=quick, workdir=workdir, record=res.samples.append,
                       progress=progress.task if progress else None, scope=scope,
                       budget=info.budget_for(quick))
    say(f"{counter} {name}: {info.title}")
    t0 = time.perf_counter()
    try:
        if progress:
            with progress.suite(name):
                info.module.run(ctx)
        else:
            info.module.run(ctx)
        entry["status"] = "ok"
    except NotMeasured as e:
        entry.update(status="not measured", reason=str(e))
        say(f"{name}: not measured here: {e}")
    except KeyboardInterrupt:
        interrupts.hit = True
        entry.update(status="interrupted", reason="interrupted (Ctrl-C): samples so far are kept")
        say(f"{name}: interrupted; keeping {len(ctx.samples)} samples")
    except Exception as e:
        entry.update(status="failed", reason=one_line(e))
        say(f"{name}: failed: {one_line(e)}")
    finally:
        entry["seconds"] = round(time.perf_counter() - t0, 2)
        entry["samples"] = len(ctx.samples)
        shutil.rmtree(workdir, ignore_errors=True)
        if ctx.notes:
            res.notes[name] = list(ctx.notes)
        if ctx.facts:
            res.facts[name] = dict(ctx.facts)
