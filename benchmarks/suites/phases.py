"""Where the time goes: a VM boot phase by phase beside a container start, as stacked bars.

The VM side is QEMU's timeline (runtime/vm/timeline.py): QEMU start-up, firmware, kernel setup and
decompression, the kernel's boot to /init, /init, the distro-like services, the workload, power-off. The
container side uses the engine's own trace when it records one (``RunResult.trace`` or
``Engine.inspect(id)["Trace"]``: ``[[step, ms since the client's request], ...]``), turned into consecutive
steps; without it, the start is timed from outside as one bar (client call to exit). Evidence for claims
C2 (steps a VM repeats) and C8 (no guest kernel to load).

The VM boots are the same ones the start-up suite makes with the services stage (same kernel,
accelerator, machine and initramfs): when it ran earlier in this run, its boots' timelines are read back
(:meth:`benchmarks.suites._vm.Booter.earlier`) and only the rounds it did not boot are booted here.
"""

from __future__ import annotations

import time

from benchmarks.suite import ClaimRow, Results, SuiteContext

NAME = "phases"
TITLE = "Phases: where a VM boot and a container start spend their time"
NEEDS = ["root", "overlayfs", "cgroups", "busybox", "qemu"]
CLAIMS = ["C2", "C8"]

QUICK = {"vm_rounds": 1, "machines": ("microvm",), "container_rounds": 5}
FULL = {"vm_rounds": 3, "machines": ("microvm", "pc", "q35"), "container_rounds": 15}
BUDGET = {"quick": 60, "full": 150}  # seconds; past it no new VM round starts (n says how many ran)
OUTSIDE = "client call → exit (timed from outside)"
CONTAINER = "container (vmvc engine)"


def run(ctx: SuiteContext) -> None:
    from benchmarks.startup import private_root

    p = QUICK if ctx.quick else FULL
    with private_root("vmvc-bench-phases-"):
        _container(ctx, p["container_rounds"])
    _vms(ctx, p)


def _trace(engine, result) -> list | None:
    """The engine's own step timings, if this engine records them (checked at run time)."""
    trace = getattr(result, "trace", None)
    if trace:
        return trace
    try:
        return engine.inspect(result.id).get("Trace")
    except Exception:
        return None


def segments(trace: list, total_ms: float) -> list[tuple[str, float]]:
    """The engine's trace (``[[step, ms since the client's request], ...]``, in step order) as consecutive
    phases: each step's phase is the time since the step before it; what follows the last step until the
    client call returned is "reply to the client"."""
    out, last = [], 0.0
    for step, at in trace:
        at = float(at)
        if at > 0 or out:
            out.append((str(step), max(0.0, at - last)))
        last = max(last, at)
    if total_ms > last:
        out.append(("reply to the client", total_ms - last))
    return out


def _container(ctx: SuiteContext, rounds: int) -> None:
    from runtime.containers import Engine, Spec

    engine = Engine()
    try:
        spec = Spec("busybox", ["/bin/true"])
        engine.run(Spec("busybox", ["/bin/true"], auto_remove=True))  # spawner up, image made, stem warm
        advance = ctx.progress("container starts", rounds)
        traced = False
        for r in range(rounds):
            t = time.perf_counter()
            result = engine.run(spec)
            ms = (time.perf_counter() - t) * 1000
            trace = _trace(engine, result)
            engine.remove(result.id, force=True)
            ctx.sample(CONTAINER, "total", ms, round=r)
            if trace:
                traced = True
                order = []
                for step, step_ms in segments(trace, ms):
                    ctx.sample(CONTAINER, "phase", step_ms, round=r, phase=step)
                    order.append(step)
                ctx.fact(f"order:{CONTAINER}", order)
            else:
                ctx.sample(CONTAINER, "phase", ms, round=r, phase=OUTSIDE)
                ctx.fact(f"order:{CONTAINER}", [OUTSIDE])
            advance(1, "run /bin/true")
        ctx.fact("container_traced", traced)
        if not traced:
            ctx.note("The engine records no trace of its own steps yet, so the container is one bar, timed "
                     "from the client's call to the exit.")
    finally:
        engine.shutdown()


def _vms(ctx: SuiteContext, p: dict) -> None:
    from benchmarks.suites._vm import Booter, services_count

    services = services_count()
    with Booter((services,), scope=ctx.scope) as b:
        ctx.fact("accelerator", b.accel)
        ctx.fact("accelerator_reason", b.reason)
        ctx.fact("services", services)
        names = list(p["machines"])
        earlier = {m: b.earlier(m, services)[:p["vm_rounds"]] for m in names}
        reused = 0
        advance = ctx.progress(f"VM boots ({b.accel})",
                               len(names) * p["vm_rounds"] - sum(len(v) for v in earlier.values()))
        for r, machine in ctx.rounds_within(names, p["vm_rounds"], warmup=0, least=1, what="VM boots"):
            if r < len(earlier[machine]):
                boot = earlier[machine][r]
                reused += 1
            else:
                advance(0, machine)
                boot = b.boot(machine, services)
                advance(1, machine)
            _record_boot(ctx, f"VM {machine} ({b.accel})", r, boot)
        ctx.fact("vm_boots_reused", reused)
        if reused:
            ctx.note(f"{reused} of the VM timelines are the start-up suite's boots of the same machine, "
                     f"kernel and initramfs ({services} services) in this run, read back rather than booted "
                     "again.")


def _record_boot(ctx: SuiteContext, method: str, r: int, boot) -> None:
    tl = boot.timeline
    order = []
    for ph in tl.phases:
        ctx.sample(method, "phase", ph.seconds * 1000, round=r, phase=ph.name)
        order.append(ph.name)
    kernel = sum(ph.seconds for ph in tl.phases if "kernel" in ph.name)
    ctx.sample(method, "total", tl.wall * 1000, round=r)
    ctx.sample(method, "kernel", kernel * 1000, round=r)
    workload = tl.event("mark:workload-start")
    if workload:
        ctx.sample(method, "to_workload", workload.t * 1000, round=r)
    ctx.fact(f"order:{method}", order)


# --- the report --------------------------------------------------------------------------------------

def _methods(res: Results) -> list[str]:
    return sorted({s.method for s in res.summaries(NAME) if s.metric == "total"},
                  key=lambda m: (m != CONTAINER, m))


def _stack(res: Results, method: str) -> list[tuple[str, float]]:
    order = res.fact(NAME, f"order:{method}") or sorted({s.labels["phase"] for s in res.summaries(NAME)
                                                         if s.method == method and s.metric == "phase"})
    out = []
    for name in order:
        m = res.median(NAME, method, "phase", phase=name)
        if m is not None:
            out.append((name, m))
    return out


def claims(res: Results) -> list[ClaimRow]:
    vms = [m for m in _methods(res) if m != CONTAINER]
    container = res.median(NAME, CONTAINER, "total")
    if not vms or container is None:
        why = "the phases suite measured no VM boot or no container start"
        return [ClaimRow("C2", "", "not measured here", why), ClaimRow("C8", "", "not measured here", why)]
    vm = vms[0]
    stack = _stack(res, vm)
    before = [name for name, _ in stack if not name.startswith(("workload", "poweroff", "report exit"))]
    workload_at = res.median(NAME, vm, "to_workload")
    total, kernel = res.median(NAME, vm, "total"), res.median(NAME, vm, "kernel")
    container_steps = len(_stack(res, CONTAINER))
    tcg = res.fact(NAME, "accelerator") == "tcg"
    c2 = ClaimRow(
        "C2", f"{vm} ran {len(before)} steps before its workload ({', '.join(before)}), reaching it after "
              f"{(workload_at or 0) / 1000:.2f} s; the container start took {container:.1f} ms in "
              f"{container_steps} step(s), none of them firmware, a kernel or an init system",
        "reproduced" if len(before) >= 3 else "not reproduced here")
    share = kernel / total if total else 0
    c8 = ClaimRow(
        "C8", f"the guest kernel (setup, decompression, boot to /init) took {kernel / 1000:.2f} s = "
              f"{share:.0%} of the {total / 1000:.2f} s VM start; a container start has no kernel phase "
              f"(it uses the host's kernel: {container:.1f} ms in all)",
        "reproduced" if kernel > 0 else "not reproduced here")
    if tcg and kernel > 0:
        c8.verdict = "reproduced with a caveat"
        c8.reason = ("under TCG emulation the kernel's boot is slower than with KVM, so its share is "
                     "larger here; with KVM it still has to boot")
    return [c2, c8]


def _bar(ax, y: float, stack: list[tuple[str, float]], colour_of, scale: float, seen: set) -> float:
    left = 0.0
    for i, (name, ms) in enumerate(stack):
        legend, colour = colour_of(i, name)
        ax.barh(y, ms / scale, left=left, color=colour, edgecolor="white", linewidth=0.3,
                label=None if legend in seen else legend)
        seen.add(legend)
        left += ms / scale
    return left


def chart(res: Results, ax) -> None:
    """VM phases in seconds; the container's start is a hairline there, so an inset zooms into it (ms)."""
    import matplotlib

    from runtime.vm.plot import group

    methods = _methods(res)
    steps = matplotlib.colormaps["tab20"]
    seen: set = set()
    for y, method in enumerate(methods):
        colours = (lambda i, name: group(name)) if method != CONTAINER else (lambda i, name: ("", "#1565c0"))
        left = _bar(ax, y, _stack(res, method), colours, 1000, seen)
        total = res.median(NAME, method, "total") or left * 1000
        ax.text(left, y, f"  {total / 1000:.2f} s" if total >= 100 else f"  {total:.1f} ms", va="center",
                fontsize=8)
    ax.set_yticks(range(len(methods)), methods, fontsize=8)
    ax.set_ylim(len(methods) - 0.5, -2.6)  # room above the bars for the inset
    ax.set_xlabel("seconds (median of each phase)")
    ax.set_title("Where the time goes: VM boot phases vs a container start")
    handles, labels = ax.get_legend_handles_labels()
    keep = [(h, label) for h, label in zip(handles, labels, strict=True) if label]
    if keep:
        ax.legend(*zip(*keep, strict=True), fontsize=7, ncol=5, loc="upper center",
                  bbox_to_anchor=(0.5, -0.14), frameon=False)
    stack = _stack(res, CONTAINER)
    if stack:
        inset = ax.inset_axes([0.3, 0.8, 0.68, 0.13])
        _bar(inset, 0, stack, lambda i, name: (name, steps(i % 20)), 1, set())
        inset.set_yticks([])
        inset.set_xlabel("the container's start, zoomed: milliseconds", fontsize=7)
        inset.tick_params(labelsize=7)
        inset.legend(fontsize=5.5, ncol=6, loc="upper center", bbox_to_anchor=(0.5, -0.7), frameon=False)
