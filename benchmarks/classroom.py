"""What the notebooks share: real or recorded mode with a visible banner, and seeded self-checking
exercises (OSTEP's homework idea: every student gets their own numbers from a seed, and the checker
computes the answer the same way), graded by nbgrader-style check cells.

    >>> from benchmarks import classroom
    >>> mode = classroom.mode(needs=["root", "overlayfs"])   # "real" here as root, else "recorded"
    >>> ex = classroom.Exercise("storm-median", seed=7)
    >>> ex.params                                             # doctest: +SKIP
    {'n': 8, 'cores': 2}
    >>> ex.check(ex.answer())                                 # a wrong answer raises AssertionError
    True

Mode: ``VMVC_NOTEBOOK_MODE=recorded`` forces the recorded results (CI runs every notebook both ways);
otherwise a notebook runs the real parts when the doctor says this host can, and says so in a banner.
"""

from __future__ import annotations

import math
import os
import random
import statistics

_BANNER = ('<div style="padding:8px 12px;border-left:6px solid {color};background:#f6f6f6;'
           'font-family:sans-serif"><b>{title}</b> {text}</div>')


def mode(needs=("root",)) -> str:
    """``"real"`` when this host has every doctor check in ``needs`` (and the mode is not forced),
    else ``"recorded"``; shows a banner saying which and why."""
    forced = os.environ.get("VMVC_NOTEBOOK_MODE", "").lower()
    why = ""
    if forced in ("real", "recorded"):
        chosen, why = forced, "chosen by VMVC_NOTEBOOK_MODE"
    else:
        from runtime.doctor import host

        report = host()
        missing = [n for n in needs if not report.ready(n)]
        chosen = "recorded" if missing else "real"
        why = f"this host lacks {', '.join(missing)}: {report.reason(missing[0])}" if missing else \
            "this host can run the real parts"
    show_banner(chosen, why)
    return chosen


def show_banner(chosen: str, why: str) -> None:
    if chosen == "real":
        html = _BANNER.format(color="#2a9d8f", title="Real mode:", text=f"measuring on this machine ({why}).")
    else:
        host = recorded().meta_host()
        html = _BANNER.format(color="#e9c46a", title="Recorded mode:",
                              text=f"showing results recorded on {host} ({why}).")
    try:
        from IPython.display import HTML, display

        display(HTML(html))
    except ImportError:
        print(f"[{chosen} mode] {why}")


class _Recorded:
    def __init__(self):
        from benchmarks import load_results

        self.results = load_results()

    def meta_host(self) -> str:
        host = getattr(self.results, "host", None) or {}
        if isinstance(host, dict) and host:
            return f"{host.get('cpus', '?')} vCPUs ({host.get('cpu', '?')}), kernel {host.get('kernel', '?')}"
        return "this project's reference host"

    def median(self, suite: str, method: str, metric: str, **labels):
        """The median for these labels; if the results were recorded with more labels (``accel`` for the
        tiny guest), the median of every sample whose labels include the given ones."""
        exact = self.results.median(suite, method, metric, **labels)
        if exact is not None:
            return exact
        vals = sorted(s.value for s in self.results.samples if (s.suite, s.method, s.metric) ==
                      (suite, method, metric) and labels.items() <= s.labels.items())
        return statistics.median(vals) if vals else None


_RECORDED = None


def recorded() -> _Recorded:
    """The results recorded on this kind of host (shipped with vmvc)."""
    global _RECORDED
    if _RECORDED is None:
        _RECORDED = _Recorded()
    return _RECORDED


# -- exercises -----------------------------------------------------------------------------------------
def _storm_median(p):
    import sim

    r = sim.run("storm", profile=p["profile"], n=p["n"], seed=p["seed"], cores=p["cores"])
    return float(sorted(r.ready_times)[len(r.ready_times) // 2])


def _layer_share(p):
    # n containers of one image: the image's bytes are stored once, each container adds its upper dir
    return round(p["image_mb"] / (p["image_mb"] + p["n"] * p["upper_mb"]), 3)


def _kernel_share(p):
    return round(p["kernel_ms"] / p["total_ms"], 3)


def _speedup(p):
    return round(p["far_ms"] / p["near_ms"], 2)


EXERCISES = {
    # name: (parameter maker, answer, relative tolerance, what to say)
    "storm-median": (lambda r: {"n": r.choice([4, 8, 16]), "cores": r.choice([1, 2, 4]),
                                "profile": r.choice(["microvm", "kvm-typical", "crun"])},
                     _storm_median, 0.01, "the median ready time (seconds) of sim.run('storm', …)"),
    "cpu-quota": (lambda r: {"cpus": r.choice([0.25, 0.5, 0.75, 1.5]),
                             "period_us": r.choice([100000, 50000])},
                  lambda p: round(p["cpus"] * p["period_us"]), 0.0,
                  "the CPU quota in µs per period (v1 cpu.cfs_quota_us; v2 cpu.max's first field)"),
    "density-fit": (lambda r: {"host_gib": r.choice([8, 16, 24]),
                               "per_instance_mib": r.choice([0.05, 3, 210, 512])},
                    lambda p: math.floor(p["host_gib"] * 1024 / p["per_instance_mib"]), 0.0,
                    "how many instances fit in the host's memory (a whole number)"),
    "exit-cost": (lambda r: {"exits": r.randrange(10, 200), "total_us": r.randrange(500, 5000)},
                  lambda p: round(p["total_us"] / p["exits"], 2), 0.01, "microseconds per VM exit"),
    "overhead-ratio": (lambda r: {"native": r.randrange(900, 1100), "other": r.randrange(400, 1100)},
                       lambda p: round(p["other"] / p["native"], 3), 0.01, "throughput as a ratio to native"),
    "layer-share": (lambda r: {"n": r.choice([5, 10, 20, 50]), "image_mb": r.choice([2, 80, 120]),
                               "upper_mb": r.choice([0.1, 1, 5])},
                    _layer_share, 0.01, "the share of disk the shared image layers take"),
    "kernel-share": (lambda r: {"kernel_ms": r.randrange(500, 3000), "total_ms": r.randrange(3000, 6000)},
                     _kernel_share, 0.01, "the guest kernel's share of the VM start"),
    "mirror-speedup": (lambda r: {"far_ms": r.randrange(1500, 9000), "near_ms": r.randrange(200, 1400)},
                       _speedup, 0.02, "how many times faster the near mirror is"),
}


class Exercise:
    """A seeded exercise: ``params`` for this student, ``check(answer)`` for the grader."""

    def __init__(self, name: str, seed: int | None = None):
        if name not in EXERCISES:
            raise KeyError(f"no exercise {name!r}; there are {', '.join(EXERCISES)}")
        self.name = name
        self.seed = int(os.environ.get("VMVC_STUDENT_SEED", "0")) if seed is None else seed
        make, self._answer, self.tolerance, self.asks = EXERCISES[name]
        self.params = make(random.Random(f"{name}:{self.seed}"))
        if name == "storm-median":
            self.params["seed"] = self.seed % 1000

    def answer(self):
        return self._answer(self.params)

    def check(self, answer) -> bool:
        """True, or AssertionError with a hint (what a grader counts as a fail)."""
        want = self.answer()
        try:
            got = float(answer)
        except (TypeError, ValueError):
            raise AssertionError(f"{self.name}: expected a number for {self.asks}, got {answer!r}") from None
        if not math.isclose(got, want, rel_tol=self.tolerance, abs_tol=1e-9):
            raise AssertionError(f"{self.name}: {got:g} is not {self.asks} for your parameters {self.params} "
                                 f"(off by more than {self.tolerance:.0%})")
        print(f"✓ {self.name}: correct")
        return True
