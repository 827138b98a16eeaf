"""What the container syscall filter costs: compiling it, installing it per start, and per system call.

The end-to-end start-up benchmark (``benchmarks.startup``) cannot resolve a sub-millisecond change on
a shared, noisy host, so this harness times the parts the filter adds, each in isolation, many times:

* ``compile_ms`` -- Docker's default profile to BPF (:mod:`runtime.security.seccomp`). Paid once per
  spawner, before any stem is forked; never per start;
* ``install_us`` -- the one ``seccomp(2)`` call a start adds, in a freshly forked child (as in a stem:
  the first touch of the inherited pages included);
* ``syscall_ns`` -- the extra time of one cheap system call (``getppid``) under the filter, against
  the same loop in an unfiltered child; a process that makes no system calls (an idle container)
  pays nothing, and no process is added per container;
* ``kernel_kb`` -- the kernel memory one installed filter holds (``VmallocUsed`` grown by 50 stacked
  installs, divided by 50): what an idle container keeps for its filter, shared by all its processes;
* ``start_ms`` (``--starts N``) -- ``Engine.run`` starts of ``busybox /bin/true --rm``, default filter
  against ``--security-opt seccomp=unconfined``, interleaved in one engine: the same code path but for
  the filter. Whole starts are too noisy here to show a 0.1 ms step, so the engine's own start trace
  (:mod:`runtime.containers.trace`) gives the step that holds the filter: ``pivot_root`` -> ``exec``
  (hostname, stdio, user, capabilities, the filter, the death signal); the difference of its medians
  is what the filter adds to a start. ``--privileged`` starts are timed beside them (no filter, every
  capability, a stem forked on demand);
* ``idle_kb`` (``--idle N``) -- N sleeping containers with the filter and N without, per container:
  the memory their cgroup is charged (kernel objects such as the filter included), their PSS and the
  host's MemAvailable drop. The ``security`` bench suite reports the same parts.

Run it: ``python -m benchmarks.seccomp_cost --runs 41 --starts 41 --idle 20 --json seccomp.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import struct
import sys
import time


def _in_child(fn) -> float:
    """Run ``fn()`` (returning a float) in a forked child and return its result."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(w, struct.pack("d", fn()))
        finally:
            os._exit(0)
    os.close(w)
    data = os.read(r, 8)
    os.close(r)
    os.waitpid(pid, 0)
    return struct.unpack("d", data)[0]


def measure(runs: int = 41, calls: int = 200_000) -> dict:
    from runtime.linux.capabilities import DOCKER_DEFAULT
    from runtime.linux.syscalls import PR_SET_NO_NEW_PRIVS, syscalls
    from runtime.security import seccomp
    from runtime.security.profile import default_profile

    sys_ = syscalls()
    compile_ms = []
    for _ in range(max(3, runs // 8)):
        t = time.perf_counter()
        seccomp.Filter(seccomp.compile_profile(default_profile(), DOCKER_DEFAULT))
        compile_ms.append(1000 * (time.perf_counter() - t))
    prog = seccomp.default_filter()

    def install() -> float:
        sys_.prctl(PR_SET_NO_NEW_PRIVS, 1)
        t = time.perf_counter()
        sys_.seccomp(prog)
        return 1e6 * (time.perf_counter() - t)

    def loop(filtered: bool):
        def body() -> float:
            sys_.prctl(PR_SET_NO_NEW_PRIVS, 1)
            if filtered:
                sys_.seccomp(prog)
            getppid = os.getppid
            t = time.perf_counter()
            for _ in range(calls):
                getppid()
            return 1e9 * (time.perf_counter() - t) / calls
        return body

    def vmalloc_kb() -> int:
        with open("/proc/meminfo") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmallocUsed:"))

    def kernel_kb() -> float:
        sys_.prctl(PR_SET_NO_NEW_PRIVS, 1)
        before = vmalloc_kb()
        for _ in range(50):  # well under the kernel's 32768-instruction limit for stacked filters
            sys_.seccomp(prog)
        return (vmalloc_kb() - before) / 50

    install_us = [_in_child(install) for _ in range(runs)]
    plain, filtered = [], []
    for _ in range(max(5, runs // 4)):  # interleaved, so host noise hits both alike
        plain.append(_in_child(loop(False)))
        filtered.append(_in_child(loop(True)))
    return {
        "runs": runs,
        "instructions": len(prog),
        "compile_ms": statistics.median(compile_ms),
        "install_us": {"median": statistics.median(install_us), "min": min(install_us),
                       "p90": sorted(install_us)[int(0.9 * (len(install_us) - 1))]},
        "syscall_ns": {"plain": statistics.median(plain), "filtered": statistics.median(filtered),
                       "added": statistics.median(filtered) - statistics.median(plain)},
        "kernel_kb": statistics.median(_in_child(kernel_kb) for _ in range(3)),
        "loadavg_1m": os.getloadavg()[0],
    }


# what a start asks for: Docker's default filter, no filter, and --privileged (no filter, every capability)
KINDS = {"default": {}, "unconfined": {"security_opt": ["seccomp=unconfined"]},
         "privileged": {"privileged": True}}


def start_once(engine, kind: str) -> tuple[float, float | None]:
    """One ``busybox /bin/true --rm`` start of ``kind``: (ms end to end, ms of its pivot_root -> exec
    step or None). Waits 50 ms first, so that every kind finds the spawner's next stem ready (a
    ``--privileged`` start discards it and forks its own: that is part of its cost, not the next one's)."""
    from runtime.containers import Spec

    time.sleep(0.05)
    spec = Spec("busybox", ["/bin/true"], auto_remove=True, **KINDS[kind])
    t = time.perf_counter()
    trace = dict(engine.run(spec).trace)
    ms = 1000 * (time.perf_counter() - t)
    step = trace["exec"] - trace["pivot_root"] if "exec" in trace and "pivot_root" in trace else None
    return ms, step


def _meminfo_kb(key: str) -> int:
    with open("/proc/meminfo") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":"))


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
    except (OSError, StopIteration):
        return 0


def idle(engine, kind: str, n: int, settle: float = 1.0) -> dict:
    """``n`` sleeping containers of ``kind`` started, left ``settle`` s, measured over another ``settle``
    s, removed. Per container, kB: ``cgroup`` (the memory its cgroup is charged, kernel objects such as
    the filter included), ``pss`` (its processes' proportional set size), ``available`` (MemAvailable's
    drop, host-wide, so noisy on a shared host); and ``cpu``, in CPU-microseconds per second idle."""
    from runtime.containers import Spec

    before = _meminfo_kb("MemAvailable")
    ids = []
    try:
        for _ in range(n):
            cid = engine.create(Spec("busybox", ["sleep", "3600"], **KINDS[kind]))
            engine.start(cid)
            ids.append(cid)
        time.sleep(settle)
        after = _meminfo_kb("MemAvailable")
        cgroup = sum(engine.stats(c)["memory_usage"] for c in ids) / 1024
        pss = sum(_pss_kb(engine.inspect(c)["State"]["Pid"]) for c in ids)
        cpu0, t0 = sum(engine.stats(c)["cpu_usage_ns"] for c in ids), time.monotonic()
        time.sleep(settle)
        cpu = (sum(engine.stats(c)["cpu_usage_ns"] for c in ids) - cpu0) / 1000 / (time.monotonic() - t0)
    finally:
        for cid in ids:
            engine.remove(cid, force=True)
    return {"cgroup": cgroup / n, "pss": pss / n, "available": (before - after) / n, "cpu": cpu / n}


def starts(n: int, idle_n: int = 0) -> dict:
    """Interleaved starts of every kind in a throw-away state root; with ``idle_n``, also the memory
    of that many sleeping containers of each kind."""
    from benchmarks.startup import private_root
    from runtime.containers import Engine

    samples: dict[str, list[float]] = {k: [] for k in KINDS}
    step: dict[str, list[float]] = {k: [] for k in KINDS}
    memory: dict[str, dict] = {}
    with private_root("vmvc-bench-seccomp-"):
        engine = Engine()
        try:
            for kind in KINDS:  # warm: the spawner, the image, a start of each kind
                start_once(engine, kind)
            kinds = list(KINDS)
            for i in range(n):
                for kind in kinds[i % 3:] + kinds[:i % 3]:
                    ms, st = start_once(engine, kind)
                    samples[kind].append(ms)
                    if st is not None:
                        step[kind].append(st)
            if idle_n:
                memory = {kind: idle(engine, kind, idle_n) for kind in ("default", "unconfined")}
        finally:
            engine.shutdown()
    med = {k: statistics.median(v) for k, v in samples.items()}
    iqr = {k: [round(q, 3) for q in statistics.quantiles(v, n=4)[::2]]
           for k, v in samples.items() if len(v) > 1}
    out = {"runs": n, "median": med, "iqr": iqr, "added": med["default"] - med["unconfined"]}
    if all(step.values()):
        exec_step = {k: statistics.median(v) for k, v in step.items()}
        out["exec_step"] = {**exec_step, "added": exec_step["default"] - exec_step["unconfined"]}
    if memory:
        out["idle_kb"] = memory
    return out


def report(result: dict) -> str:
    i, s = result["install_us"], result["syscall_ns"]
    return "\n".join([
        f"seccomp filter: Docker's default profile, {result['instructions']} BPF instructions "
        f"(load {result['loadavg_1m']:.2f})",
        f"  compile (once per spawner)   {result['compile_ms']:8.2f} ms",
        f"  install (per start)          {i['median']:8.1f} us median, {i['min']:.1f} min, "
        f"{i['p90']:.1f} p90",
        f"  getppid()                    {s['plain']:8.1f} ns plain, {s['filtered']:.1f} ns filtered "
        f"({s['added']:+.1f} ns per call)",
        f"  kernel memory per container  {result['kernel_kb']:8.1f} kB (vmalloc; no process, no CPU idle)",
    ] + ([] if "start_ms" not in result else [
        f"  Engine.run start             {result['start_ms']['median']['default']:8.2f} ms with the filter, "
        f"{result['start_ms']['median']['unconfined']:.2f} ms unconfined, "
        f"{result['start_ms']['median']['privileged']:.2f} ms --privileged "
        f"({result['start_ms']['added']:+.2f} ms, median of {result['start_ms']['runs']} each)",
    ]) + ([] if "iqr" not in result.get("start_ms", {}) else [
        "  start IQR                    " + ", ".join(f"{k} {q1:.1f}-{q3:.1f} ms"
                                                     for k, (q1, q3) in result["start_ms"]["iqr"].items()),
    ]) + ([] if "exec_step" not in result.get("start_ms", {}) else [
        "  pivot_root -> exec step      {default:8.3f} ms with the filter, {unconfined:.3f} ms unconfined"
        " ({added:+.3f} ms: what the filter adds to a start)".format(**result["start_ms"]["exec_step"]),
    ]) + ([] if "idle_kb" not in result.get("start_ms", {}) else [
        "  idle container ({kind:10})  {cgroup:8.0f} kB cgroup, {pss:.0f} kB PSS, {available:.0f} kB "
        "MemAvailable, {cpu:.1f} CPU-us/s".format(kind=kind, **kb)
        for kind, kb in result["start_ms"]["idle_kb"].items()
    ]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.seccomp_cost", description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=41, help="installs timed (default 41)")
    p.add_argument("--calls", type=int, default=200_000, help="system calls per timing loop")
    p.add_argument("--starts", type=int, default=0,
                   help="also time N engine starts of each kind (default filter, unconfined, --privileged)")
    p.add_argument("--idle", type=int, default=0, metavar="N",
                   help="with --starts: also the memory of N sleeping containers with and without the filter")
    p.add_argument("--json", help="write the result to this file")
    a = p.parse_args(argv)
    result = measure(a.runs, a.calls)
    if a.starts:
        result["start_ms"] = starts(a.starts, a.idle)
    print(report(result))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
