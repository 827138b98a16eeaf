"""The one records format the model reads: what ``vmvc bench`` and ``vmvc vm boot --json`` write.

``sim calibrate`` and ``sim validate`` read measurement *records* (docs/records.md has the full
format). Three record types matter::

    {"type": "host", "cores": 2, "memory_mib": 24576, "disk_mib_s": 1000}
    {"type": "stage", "kind": "vm", "stage": "kernel_boot_to_init", "seconds": 2.31, "cpu_seconds": 2.29}
    {"type": "storm", "kind": "container", "n": 4, "ready_s": [0.21, 0.25, 0.26, 0.30]}

Why one format, accepted in several shapes: a student pipes ``vmvc vm boot --json`` (one boot report,
or a list of them with ``--machine all``) into ``vmvc sim calibrate`` as readily as the benchmark's
records file, so :func:`normalise` takes any of

* a list of records, a single record, or ``{"records": [...]}`` (what ``vmvc bench`` saves);
* a VM boot report (``vmvc vm boot --json``: an object with a ``timeline``), or a list of them;
* a ``vmvc bench`` ``results.json`` (its storm suite keeps its records among the run's facts);
* a profile calibrated by ``vmvc bench`` (it keeps every record it saw in ``measured.source_records``,
  fitted on and held out alike, so ``vmvc sim validate sim/profiles/this-host.json`` re-checks it).

A boot report becomes one ``stage`` record per timeline phase up to the workload's end (the phase's
label as a slug: ``kernel boot to /init`` → ``kernel_boot_to_init``) and one ``storm`` record of
``n = 1`` whose ready time is the ``mark:workload-done`` event: "ready" means the workload has run,
for VMs and containers alike. Records may carry any other keys (``run``, ``round``, ``machine``,
``accel``, ``source``...); the model ignores them.

    >>> recs = normalise({"timeline": {"phases": [
    ...     {"name": "qemu start-up", "start": 0.0, "end": 0.2, "ends": "setup"},
    ...     {"name": "kernel boot to /init", "start": 0.2, "end": 2.0, "ends": "init"},
    ...     {"name": "workload", "start": 2.0, "end": 2.1, "ends": "mark:workload-done"},
    ...     {"name": "poweroff + qemu exit", "start": 2.1, "end": 2.2, "ends": "exit"}],
    ...     "events": [{"name": "mark:workload-done", "t": 2.1}]}, "machine": "microvm", "accel": "tcg"})
    >>> [(r["type"], r.get("stage"), r.get("ready_s")) for r in recs]
    [('stage', 'qemu_start_up', None), ('stage', 'kernel_boot_to_init', None), ('stage', 'workload', None), \
('storm', None, [2.1])]
"""

from __future__ import annotations

import re

from sim.errors import SimError

READY_EVENT = "mark:workload-done"  # a VM is ready when its workload has run
TYPES = ("host", "stage", "storm")


def slug(label: str) -> str:
    """A stage name from a phase label: ``"/init: shell + /proc"`` → ``"init_shell_proc"``."""
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_") or "phase"


def is_boot_report(obj) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("timeline"), dict) and "type" not in obj


def from_boot(report: dict, **extra) -> list[dict]:
    """Stage records (one per phase up to the workload's end) and an ``n = 1`` storm from one boot
    report (``BootReport.to_dict()``, i.e. ``vmvc vm boot --json``). ``extra`` keys go on every record;
    ``cpu`` maps a stage name to the CPU seconds measured for it, when the caller sampled them."""
    cpu = extra.pop("cpu", None) or {}
    tl = report["timeline"]
    phases = tl.get("phases")
    if not isinstance(phases, list) or not phases:
        raise SimError("a boot report without timeline phases")
    ready = next((e.get("t") for e in tl.get("events", []) if e.get("name") == READY_EVENT), None)
    if not isinstance(ready, (int, float)):
        raise SimError(f"a boot report without its '{READY_EVENT}' event (the workload did not finish)")
    info = {k: report[k] for k in ("machine", "accel") if k in report}
    out = []
    for p in phases:
        seconds = float(p["end"]) - float(p["start"])
        rec = {
            "type": "stage",
            "kind": "vm",
            "stage": slug(p["name"]),
            "seconds": max(0.0, seconds),
            **info,
            **extra,
        }
        if rec["stage"] in cpu:
            rec["cpu_seconds"] = min(max(0.0, float(cpu[rec["stage"]])), rec["seconds"])
        out.append(rec)
        if p.get("ends") == READY_EVENT:
            break
    out.append({"type": "storm", "kind": "vm", "n": 1, "ready_s": [float(ready)], **info, **extra})
    return out


def normalise(data) -> list[dict]:
    """Any accepted shape (see the module docstring) → a flat list of records."""
    if isinstance(data, dict) and "records" in data and "type" not in data:
        data = data["records"]
    elif isinstance(data, dict) and "instances" in data and "type" not in data:  # a calibrated profile
        found = (data.get("measured") or {}).get("source_records")
        if not isinstance(found, list):
            raise SimError("a profile without the records it was fitted on ('measured.source_records')")
        data = found
    elif isinstance(data, dict) and isinstance(data.get("facts"), dict) and "type" not in data:
        found = (data["facts"].get("storm") or {}).get("records")  # a `vmvc bench` results.json
        if not isinstance(found, list):
            raise SimError("a results file without storm records (run `vmvc bench --suite storm`)")
        data = found
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise SimError('expected a list of records, one record, {"records": [...]} or a vm boot report')
    out: list[dict] = []
    for i, item in enumerate(data):
        if is_boot_report(item):
            out += from_boot(item, run=i)
        else:
            out.append(item)
    return out


def load(path) -> list[dict]:
    """A records file in any accepted shape (see the module docstring) → a flat list of records."""
    from sim.profiles import read_json

    try:
        return normalise(read_json(path))
    except SimError as e:
        raise SimError(f"{path}: {e}") from None


def split(records: list[dict], held_out: dict[str, set[int]]) -> tuple[list[dict], list[dict]]:
    """(fit, held-out): storms whose ``n`` is in ``held_out[kind]`` go to the second list; every other
    record (host, stages, the remaining storms) to the first."""
    fit, test = [], []
    for r in records:
        if r.get("type") == "storm" and r.get("n") in held_out.get(r.get("kind"), set()):
            test.append(r)
        else:
            fit.append(r)
    return fit, test
