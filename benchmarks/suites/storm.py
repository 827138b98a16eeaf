"""Start storms, measured and modelled: N instances started at once, then the model fitted and checked.

What runs:

* **containers**: N = 1, 2, 4, 8, 16 ``vmvc run --rm busybox echo VMVC-READY`` processes spawned at
  once (a private ``$VMVC_ROOT``, spawner warmed first), as N users typing ``docker run`` together: each
  pays its CLI process and the engine's start; the instance is *ready* when its workload's line reaches
  the host;
* **VMs**: N = 1, 2, 4 QEMU guests (``-M microvm``, 256 MiB, the busybox
  initramfs, the accelerator the doctor picks: TCG emulation on a host without VT-x/AMD-V) spawned at
  once; *ready* when the guest's ``/init`` reports the workload done (``mark:workload-done``).

Every storm becomes a record in the model's format (``docs/records.md``): a ``storm`` record with each
instance's ready time, and for single starts (N = 1) one ``stage`` record per boot phase with the CPU
seconds QEMU used in it (sampled as each console line arrived), or one ``run`` stage for a container
(the client's CPU plus the spawner's). Then:

* a ``this-host`` profile is fitted (:mod:`sim.calibrate`) on the single starts and the storms of
  N ∈ {1, 4, 16} containers and N ∈ {1, 4} VMs, and **validated
  on the held-out storms** (N ∈ {2, 8} containers, N = 2 VMs): MAPE per kind against the 15 % target,
  with how many storms it rests on (fewer than two: one noisy point on a shared host, too few to judge
  the model, and the notes say so); when it is above, the notes say where the model goes wrong;
* the profile is saved as ``this-host`` in the user's profile directory (``vmvc sim ... --profile
  this-host``), and the records are kept in the results (``vmvc sim calibrate results.json`` refits);
* claim C10: the model's scale-out scenario (:mod:`sim.scenarios.scaleout`) with this host's calibrated
  VMs and containers.

Run it alone: ``python -m benchmarks.suites.storm [--full] [--save-profile PATH]``.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

from benchmarks.suite import ClaimRow, Results, SuiteContext, log_axes_over_n

NAME = "storm"
TITLE = "Start storms: measured, and the model fitted to them"
NEEDS = ["root", "overlayfs", "cgroups", "busybox", "qemu"]
CLAIMS = ["C3", "C10"]

CT_NS = (1, 2, 4, 8, 16)
HELD_OUT = {"container": {2, 8}, "vm": {2}}
TARGET_MAPE = 0.15
MIN_HELD_OUT = 2  # held-out storms of a kind below which its MAPE is one noisy point, not a judgement
BUDGET = {"quick": 150, "full": 300}  # seconds; past it no new round starts (n says how many ran)
WORKLOAD = "echo VMVC-READY"
FIRECRACKER = "Firecracker (NSDI 2020): ≤125 ms to guest init under KVM; LightVM (SOSP 2017): 2.3 ms VM boot"


def plan(quick: bool) -> dict:
    """How much to measure: quick keeps the suite to ~50 s on a quiet 2-core host, full to a few minutes.

    Both fit VMs on a contended storm (N = 4) as well as single boots: fitted on single boots alone, the
    model cannot learn what guests started together cost each other on this host's CPUs, and it missed
    the held-out N = 2 by 17-23 %. Two VM rounds, so the held-out figure rests on two storms, not one."""
    if quick:
        return {"ct_rounds": 2, "vm_rounds": 2, "vm_ns": (1, 2, 4), "seeds": 3}
    return {"ct_rounds": 5, "vm_rounds": 2, "vm_ns": (1, 2, 4), "seeds": 5}


def host_record() -> dict:
    with open("/proc/meminfo") as f:
        total = next(int(line.split()[1]) for line in f if line.startswith("MemTotal:"))
    return {
        "type": "host",
        "cores": os.cpu_count() or 1,
        "memory_mib": round(total / 1024),
        "source": "this host (/proc)",
    }


# -- measuring -----------------------------------------------------------------------------------
def container_storm(n: int, root: str, spawner_pid: int | None) -> tuple[list[float], list[dict]]:
    """Ready times of ``n`` ``vmvc run`` started at once; for n = 1 also its stage record, whose CPU is
    everything one start costs the host: the client process's CPU and the spawner's (with its reaped
    children: the stems it forks ahead of time, which a storm pays inside its window)."""
    import resource

    from benchmarks.storm_launch import Fleet, proc_cpu, vmvc_cli

    env = {**os.environ, "VMVC_ROOT": root}
    argv = [*vmvc_cli(), "run", "--rm", "busybox", "sh", "-c", WORKLOAD]
    spawner_before = proc_cpu(spawner_pid, children=True) if spawner_pid else None
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    with Fleet() as fleet:
        t0 = time.monotonic()
        for _ in range(n):
            fleet.container(argv, env)
        fleet.wait("exit", timeout=60 + 5 * n)
        ready = [inst.t0 - t0 + inst.ready for inst in fleet.items if inst.ready is not None]
    if len(ready) != n:
        raise RuntimeError(f"{n - len(ready)} of {n} containers never printed their ready line")
    stages = []
    if n == 1:
        time.sleep(0.1)  # the spawner forks the next stem after an exit: count it
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
        spawner_after = proc_cpu(spawner_pid, children=True) if spawner_pid else None
        if spawner_before is not None and spawner_after is not None:
            cpu += spawner_after - spawner_before
        stages.append(
            {
                "type": "stage",
                "kind": "container",
                "stage": "run",
                "seconds": ready[0],
                "cpu_seconds": min(cpu, ready[0]),
                "cpu_seconds_total": cpu,
                "source": "vmvc run, timed from outside",
            }
        )
    return ready, stages


def vm_storm(n: int, kernel: str, initrd: str, accel: str) -> tuple[list[float], list[dict], list[float]]:
    """Ready times of ``n`` guests started at once, the stage records of a single boot, peak RSS (MiB)."""
    from benchmarks.storm_launch import Fleet, hwm_kib, phase_cpu, timeline_of
    from runtime.vm import qemu
    from sim.records import READY_EVENT, from_boot

    spec = qemu.Spec(kernel, initrd, "microvm", accel)
    with Fleet() as fleet:
        t0 = time.monotonic()
        for _ in range(n):
            fleet.vm(spec)
        peak: dict[int, int] = {}

        def sample() -> None:  # VmHWM is the kernel's own high-water mark: the last read before exit holds
            for i in fleet.items:
                if i.exit is None:
                    peak[i.proc.pid] = max(peak.get(i.proc.pid, 0), hwm_kib(i.proc.pid))

        fleet.wait("exit", timeout=120 + 60 * n, tick=sample)
        ready, stages = [], []
        for inst in fleet.items:
            tl = timeline_of(inst, {"machine": "microvm", "accel": accel})
            event = tl.event(READY_EVENT)
            if event is None:
                raise RuntimeError(f"a guest never reported its workload done: {inst.texts[-1:]}")
            ready.append(inst.t0 - t0 + event.t)
            if n == 1:
                report = {"timeline": tl.to_dict(), "machine": "microvm", "accel": accel}
                stages = [r for r in from_boot(report, cpu=phase_cpu(inst, tl)) if r["type"] == "stage"]
                if stages and peak:  # QEMU's memory, held from its start on
                    stages[0]["mem_mib"] = round(max(peak.values()) / 1024, 1)
    return ready, stages, [v / 1024 for v in peak.values()]


def run(ctx: SuiteContext) -> None:
    from benchmarks.startup import private_root
    from benchmarks.storm_launch import guest_kernel
    from runtime.vm import accel as accel_mod
    from runtime.vm.boot import initrd_file

    p = plan(ctx.quick)
    records: list[dict] = [host_record()]
    ctx.fact("records", records)  # kept even if interrupted: what was measured so far
    decision = accel_mod.decide("auto")
    ctx.fact("accelerator", decision.accel)
    ctx.fact("accelerator_reason", decision.reason)
    kernel = guest_kernel()
    total = p["ct_rounds"] * len(CT_NS) + p["vm_rounds"] * len(p["vm_ns"]) + 1
    advance = ctx.progress("storm", total)
    with private_root("vmvc-bench-storm-") as root:
        from runtime.containers import Engine, Spec

        engine = Engine()
        try:
            engine.run(Spec("busybox", ["true"], auto_remove=True))  # image built, spawner up
            spawner = engine.spawner.request({"op": "ping"}).get("pid")
            for r, method in ctx.rounds_within([f"container:{n}" for n in CT_NS], p["ct_rounds"], warmup=1,
                                               least=1, what="container storms"):
                n = int(method.split(":")[1])
                ready, stages = container_storm(n, root, spawner)
                if r < 0:
                    continue
                _record(ctx, records, "container", n, r, ready, stages)
                advance(method=f"{n} containers")
        finally:
            engine.shutdown()
    with initrd_file(WORKLOAD) as (initrd, _):
        for r, method in ctx.rounds_within([f"vm:{n}" for n in p["vm_ns"]], p["vm_rounds"], warmup=0, least=1,
                                           what="VM storms"):
            n = int(method.split(":")[1])
            ready, stages, rss = vm_storm(n, kernel.path, initrd, decision.accel)
            _record(ctx, records, "vm", n, r, ready, stages)
            for v in rss:
                ctx.sample("vm", "peak_rss", v, "MiB", round=r, n=n)
            advance(method=f"{n} VMs ({decision.accel})")
    ctx.note(
        f"VMs: QEMU -M microvm, 256 MiB, busybox initramfs, accelerator {decision.accel} "
        f"({decision.reason}). Containers: `vmvc run --rm busybox` as separate client processes."
    )
    data = fit_and_validate(ctx, records, p["seeds"])
    if data is not None:
        from sim.profiles import save_profile

        ctx.note(f"profile saved: {save_profile(data)} (vmvc sim storm --profile this-host --kind vm)")
    advance(method="model")


def _record(ctx, records, kind, n, r, ready, stages) -> None:
    records += [{**s, "round": r} for s in stages]
    records.append(
        {"type": "storm", "kind": kind, "n": n, "ready_s": [round(x, 6) for x in ready], "round": r}
    )
    ctx.sample(kind, "ready_mean", statistics.fmean(ready), "s", round=r, n=n)
    ctx.sample(kind, "makespan", max(ready), "s", round=r, n=n)


# -- the model -----------------------------------------------------------------------------------
def about(ctx_facts: dict) -> dict:
    """The profile's title, description and sources: this host and this run."""
    import platform

    with open("/proc/cpuinfo") as f:
        cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "?")
    accel = ctx_facts.get("accelerator", "?")
    when = time.strftime("%Y-%m-%d")
    return {
        "title": f"This host, calibrated from vmvc bench storms ({os.cpu_count()} CPUs, VMs under {accel})",
        "description": (
            f"Fitted by sim.calibrate on {when} from `vmvc bench --suite storm` records measured "
            f"on {cpu}, {os.cpu_count()} CPUs, Linux {platform.release()}: containers are "
            f"`vmvc run --rm busybox` client processes, VMs QEMU -M microvm 256 MiB with the "
            f"busybox initramfs under {accel}. Held-out storms and their MAPE are in "
            "'measured.validation'."
        ),
        "sources": [
            {
                "id": "this-host",
                "cite": f"vmvc bench storm suite, measured on this host ({cpu}, "
                f"Linux {platform.release()}, accelerator {accel}) on {when}",
                "url": "",
            }
        ],
    }


def fit_and_validate(ctx: SuiteContext, records: list[dict], seeds: int = 3) -> dict | None:
    """Fit on part of ``records``, validate on the held-out storms; samples and notes into ``ctx``."""
    from sim.calibrate import predict, profile_from_records
    from sim.profiles import load
    from sim.records import split
    from sim.validate import validate

    fit, held = split(records, HELD_OUT)
    if not any(r.get("type") == "stage" for r in fit):
        ctx.note("model: no single starts were measured, so no profile was fitted")
        return None
    data = profile_from_records(fit, name="this-host", about=about(ctx.facts))
    prof = load(data)
    kinds = set(prof.kinds)
    held = [r for r in held if r.get("kind") in kinds]
    if held:
        v = validate(data, held, seeds=seeds)
        data["measured"]["validation"] = {
            **v.to_json(),
            "held_out": {k: sorted(s) for k, s in HELD_OUT.items()},
        }
        for kind, mape in v.mape_by_kind().items():
            count = [r for r in held if r.get("kind") == kind and r.get("type") == "storm"]
            ctx.sample("model", "mape_held_out", 100 * mape, "%", kind=kind)
            ctx.sample("model", "held_out_storms", len(count), "storms", kind=kind)
            verdict = "within" if mape <= TARGET_MAPE else "ABOVE"
            ctx.note(
                f"model vs held-out {kind} storms (N = {', '.join(str(x) for x in sorted(HELD_OUT[kind]))}: "
                f"{_storms(len(count))}, fitted on {basis(fit, kind)}): MAPE {mape:.1%}, {verdict} the "
                f"{TARGET_MAPE:.0%} target"
                + (
                    "; too few held-out storms to judge the model: one storm on a shared host is one noisy "
                    "point (a TCG boot varies by ±30 % here), and `--full` holds out more."
                    if len(count) < MIN_HELD_OUT
                    else "."
                )
            )
            if mape > TARGET_MAPE:
                ctx.note(diagnose(kind, v.rows, data, records))
    ns = {
        k: sorted({r["n"] for r in records if r.get("type") == "storm" and r.get("kind") == k}) for k in kinds
    }
    for kind in kinds:
        for n in ns[kind]:
            mean, span = predict(prof, kind, n, seeds=seeds, jitter=True)
            ctx.sample("model", "predicted_ready_mean", mean, "s", kind=kind, n=n)
    data["measured"]["source_records"] = records  # fitted on and held out: `vmvc sim validate` re-checks
    ctx.fact("profile", data)
    scaleout(ctx, data)
    return data


def _storms(k: int) -> str:
    return f"{k} storm" + ("" if k == 1 else "s")


def basis(fit: list[dict], kind: str) -> str:
    """What the fit of ``kind`` rests on, in words: its single starts (rounds of stage records) and storms."""
    singles = len({r.get("round") for r in fit if r.get("type") == "stage" and r.get("kind") == kind})
    storms = sorted(r["n"] for r in fit if r.get("type") == "storm" and r.get("kind") == kind and r["n"] > 1)
    text = f"{singles} single start" + ("" if singles == 1 else "s")
    if storms:
        text += f" and {_storms(len(storms))} of N = {', '.join(str(n) for n in sorted(set(storms)))}"
    return text


def diagnose(kind: str, rows: list[dict], data: dict, records: list[dict]) -> str:
    """Which way, and in which stage, the model misses (for the notes when MAPE is above target)."""
    mine = [r for r in rows if r["kind"] == kind]
    bias = statistics.fmean(r["predicted"] / r["measured"] - 1 for r in mine)
    stages = data["instances"][kind]["stages"]
    big = max(stages, key=lambda s: s["cpu_ms"] + s["delay_ms"])
    cpu_share = big["cpu_ms"] / max(1e-9, big["cpu_ms"] + big["delay_ms"])
    cores = data["host"].get("effective_cores") or data["host"]["cores"]
    text = (
        f"model notes ({kind}): it predicts the held-out storms {abs(bias):.0%} "
        f"{'slower' if bias > 0 else 'faster'} than measured on average. Its largest stage, "
        f"'{big['name']}' ({big['cpu_ms'] + big['delay_ms']:.0f} ms), is {cpu_share:.0%} CPU in the fit, and "
        f"how that stage shares {cores:g} cores in a storm is what the prediction rests on"
    )
    means: dict[int, list[float]] = {}
    for r in records:
        if r.get("type") == "storm" and r.get("kind") == kind:
            means.setdefault(r["n"], []).append(statistics.fmean(r["ready_s"]))
    by_n = sorted((n, statistics.median(v)) for n, v in means.items())
    if any(later < earlier for (_, earlier), (_, later) in zip(by_n, by_n[1:], strict=False)):
        text += (
            "; but the measured storms are not monotonic in N (a larger storm was ready sooner than a "
            "smaller one), so other work on this host moved them more than their own contention did: "
            "more rounds (--full) or a quieter host are needed, not another model"
        )
    elif cpu_share < 0.5:
        text += (
            f"; a single start got only {cpu_share:.0%} of a core there, so the host was busy with other "
            "work, which varies from storm to storm"
        )
    return text + "."


def scaleout(ctx: SuiteContext, data: dict) -> None:
    """C10: the scale-out scenario with this host's calibrated VMs and containers (same seeds)."""
    import sim

    for kind in ("vm", "container"):
        if kind not in data["instances"]:
            continue
        for seed in range(3):
            s = sim.run("scaleout", profile=data, kind=kind, seed=seed).summary()
            absorbed = s["absorb_s"] is not None and s["absorb_s"] == s["absorb_s"]  # None/NaN: never
            ctx.sample(f"model:{kind}", "absorbed", 1.0 if absorbed else 0.0, "share", round=seed)
            if absorbed:
                ctx.sample(f"model:{kind}", "absorb_s", s["absorb_s"], "s", round=seed)
            ctx.sample(f"model:{kind}", "drop_fraction", 100 * s["drop_fraction"], "%", round=seed)


# -- claims and chart ----------------------------------------------------------------------------
def claims(res: Results) -> list[ClaimRow]:
    rows = []
    accel = (
        res.fact(NAME, "accelerator", "?")
        if hasattr(res, "fact")
        else res.facts.get(NAME, {}).get("accelerator", "?")
    )
    ct, vm = res.median(NAME, "container", "ready_mean", n=1), res.median(NAME, "vm", "ready_mean", n=1)
    if ct and vm:
        ratio = vm / ct
        measured = (
            f"single start to a running workload: container {ct * 1e3:.0f} ms (`vmvc run`), "
            f"VM {vm:.2f} s (QEMU microvm, {accel}): {ratio:.0f}× slower"
        )
        ct4, vm4 = res.median(NAME, "container", "ready_mean", n=4), res.median(NAME, "vm", "ready_mean", n=4)
        if ct4 and vm4:
            measured += f"; 4 at once: container {ct4 * 1e3:.0f} ms, VM {vm4:.2f} s mean ready"
        if ratio <= 1:
            verdict, reason = "not reproduced here", "the VM was not slower here"
        elif accel == "kvm":
            verdict, reason = "reproduced", ""
        else:
            verdict, reason = (
                "reproduced with a caveat",
                f"VMs ran under {accel} (software emulation, no "
                "hardware virtualisation here): the VM side is slower than on a KVM host",
            )
        rows.append(ClaimRow("C3", measured, verdict, reason, FIRECRACKER))
    else:
        rows.append(
            ClaimRow(
                "C3",
                "no storm of one container and one VM in this run",
                "not measured here",
                "the storm suite did not measure both kinds",
            )
        )
    a_vm, a_ct = (_absorb(res, k) for k in ("vm", "container"))
    d_vm, d_ct = (res.median(NAME, f"model:{k}", "drop_fraction") for k in ("vm", "container"))
    if None not in (a_vm, a_ct, d_vm, d_ct):
        measured = (
            f"model, this host's calibrated profile, a 10× request spike: VMs absorb it in "
            f"{_s(a_vm)} and drop {d_vm:.1f}% of requests; containers in {_s(a_ct)}, dropping "
            f"{d_ct:.1f}%"
        )
        better = (d_ct <= d_vm) and (_lt(a_ct, a_vm))
        verdict = "reproduced with a caveat" if better else "not reproduced here"
        reason = (
            f"a model result (sim.scenarios.scaleout), calibrated on this run's storms; VM boots were {accel}"
            if better
            else "the calibrated model did not scale containers out faster"
        )
        rows.append(ClaimRow("C10", measured, verdict, reason, ""))
    else:
        rows.append(
            ClaimRow(
                "C10",
                "no calibrated profile in this run",
                "not measured here",
                "the storm suite did not fit a profile (no single starts measured)",
            )
        )
    return rows


def _absorb(res: Results, kind: str) -> float | None:
    """Median time the model's ``kind`` took to absorb the spike: NaN when most runs never did, None when
    the model was not run."""
    share = res.median(NAME, f"model:{kind}", "absorbed")
    if share is None:
        return None
    if share < 0.5:
        return float("nan")
    return res.median(NAME, f"model:{kind}", "absorb_s")


def _s(x: float) -> str:
    return "never (within the 60 s spike)" if x != x else f"{x:.1f} s"


def _lt(a: float, b: float) -> bool:
    """a < b, where NaN (never absorbed) counts as the largest."""
    if a != a:
        return False
    return b != b or a < b


def chart(res: Results, ax) -> None:
    """Measured mean ready time vs N (median over rounds, IQR bars) and the model's prediction."""
    colours = {"container": "tab:blue", "vm": "tab:red"}
    for kind, colour in colours.items():
        points = sorted(
            (s.labels["n"], s) for s in res.summaries(NAME) if s.method == kind and s.metric == "ready_mean"
        )
        if not points:
            continue
        ns = [n for n, _ in points]
        med = [s.median for _, s in points]
        err = [[s.median - s.q1 for _, s in points], [s.q3 - s.median for _, s in points]]
        mape = res.median(NAME, "model", "mape_held_out", kind=kind)
        n_held = res.median(NAME, "model", "held_out_storms", kind=kind)
        over = f" over {_storms(int(n_held))}" if n_held is not None else ""
        label = f"{kind}: measured" + (f" (held-out MAPE {mape:.0f}%{over})" if mape is not None else "")
        ax.errorbar(ns, med, yerr=err, fmt="o", color=colour, label=label, capsize=3)
        held = [(n, m) for n, m in zip(ns, med, strict=True) if n in HELD_OUT[kind]]
        if held:
            ax.scatter(*zip(*held, strict=True), s=90, facecolors="none", edgecolors=colour)
        pred = res.curve(NAME, "model", "predicted_ready_mean", kind=kind)
        if pred:
            ax.plot(*zip(*pred, strict=True), "--", color=colour, label=f"{kind}: model (this-host)")
    log_axes_over_n(ax, "instances started at once (N); circled: held out of the fit",
                    "mean time to a running workload (s)", "Start storms: measured vs the calibrated model")


# -- standalone ----------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    from benchmarks.storm_launch import standalone

    return standalone(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
