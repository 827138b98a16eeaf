"""KVM or TCG? Decide from evidence, in well under a second, and say why.

Why not just try KVM: on a host whose ``/dev/kvm`` is a software KVM (kvm_pvm), a full kernel boot
runs for one to three minutes before it dies with ``KVM internal error`` -- far too late to find
out. The evidence instead:

* does ``/dev/kvm`` exist and answer the KVM API (the doctor's ``kvm`` check);
* which module backs it (``kvm_intel``/``kvm_amd`` are hardware; ``kvm_pvm`` is software) and does
  the CPU advertise ``vmx``/``svm`` (the doctor's ``kvm.hw`` check);
* does a tiny guest actually run: pyvmm's real-mode "hello" (19 exits, about a millisecond).

``auto`` picks KVM only when all three say yes. The probe is injectable, so tests can show the
decision on a host that has hardware virtualisation without needing one.

>>> decide("auto").accel    # doctest: +SKIP
'tcg'
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from runtime.errors import UsageError, VmvcError

CHOICES = ("auto", "kvm", "tcg")


@dataclass
class Evidence:
    device: bool                    # /dev/kvm exists
    api: int | None                 # KVM_GET_API_VERSION, None when it does not open
    modules: list[str]              # kvm_intel, kvm_amd, kvm_pvm, ...
    cpu_virt: list[str]             # vmx / svm
    guest_ok: bool | None = None    # the tiny guest ran and printed what it should (None: not tried)
    guest_ms: float | None = None
    guest_error: str = ""

    @property
    def hardware(self) -> bool:
        return bool(self.cpu_virt) and any(m in self.modules for m in ("kvm_intel", "kvm_amd"))


@dataclass
class Decision:
    accel: str                      # kvm | tcg
    requested: str
    reason: str
    evidence: dict = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def tiny_guest() -> tuple[bool, float, str]:
    """Run pyvmm's real-mode hello; (ok, milliseconds, error)."""
    from runtime.vm.pyvmm import guests

    start = time.perf_counter()
    try:
        out = guests.run("hello", "real", timeout=2.0)
    except (VmvcError, OSError) as e:
        return False, (time.perf_counter() - start) * 1e3, str(e)
    ok = out.serial == "Hello from pyvmm!\n"
    return ok, (time.perf_counter() - start) * 1e3, "" if ok else f"guest printed {out.serial!r}"


def host_evidence(root: str = "/", run_guest: bool = True) -> Evidence:
    """The real host: the doctor's KVM facts plus a tiny guest when the device answers."""
    from runtime.doctor import kvm as doctor_kvm

    info = doctor_kvm.facts(root)
    api = doctor_kvm.api_version() if info["device"] else None
    ev = Evidence(info["device"], api, info["modules"], info["cpu_virt"])
    if run_guest and api is not None:
        ev.guest_ok, ev.guest_ms, ev.guest_error = tiny_guest()
    return ev


def _module(ev: Evidence) -> str:
    return ",".join(m for m in ev.modules if m != "kvm") or "no kvm module"


def _guest(ev: Evidence) -> str:
    if ev.guest_ok is None:
        return "tiny guest not tried"
    if ev.guest_ok:
        return f"a tiny guest ran in {ev.guest_ms:.1f} ms"
    return f"a tiny guest failed ({ev.guest_error})"


def decide(requested: str = "auto", probe: Callable[[], Evidence] = host_evidence) -> Decision:
    """Pick ``kvm`` or ``tcg``; ``kvm`` requested on a host that cannot boot kernels with it is an error."""
    if requested not in CHOICES:
        raise UsageError(f"invalid accelerator '{requested}' (choose {', '.join(CHOICES)})")
    start = time.perf_counter()
    if requested == "tcg":
        return Decision("tcg", requested, "requested: TCG (QEMU's software emulation)", {},
                        time.perf_counter() - start)
    ev = probe()
    flags = ",".join(ev.cpu_virt) or "no vmx/svm"
    if not ev.device or ev.api is None:
        why = "no /dev/kvm" if not ev.device else "/dev/kvm does not open"
        accel, reason = "tcg", f"{why}: TCG (software emulation)"
    elif not ev.hardware:
        accel, reason = "tcg", (f"/dev/kvm is {_module(ev)} with CPU flags {flags}: a software KVM "
                                f"({_guest(ev)}; without VT-x/AMD-V a full kernel is not tried: on kvm_pvm "
                                "such boots ended in 'KVM internal error' after minutes); TCG boots them")
    elif not ev.guest_ok:
        accel, reason = "tcg", f"{_module(ev)} with {flags}, but {_guest(ev)}: TCG"
    else:
        accel, reason = "kvm", f"hardware virtualisation: {_module(ev)}, CPU {flags}, {_guest(ev)}"
    decision = Decision(accel, requested, reason, asdict(ev), time.perf_counter() - start)
    if requested == "kvm" and accel != "kvm":
        raise VmvcError(f"--accel kvm refused: {reason.rsplit(';', 1)[0]}. A KVM boot here would fail "
                        f"after minutes; use --accel tcg or auto")
    if requested == "kvm":
        decision.reason = f"requested; {reason}"
    return decision
