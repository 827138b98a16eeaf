"""``sim.run``: one call from a notebook to a result you can look at.

    >>> import sim
    >>> r = sim.run("storm", profile="kvm-typical", n=8, seed=1)
    >>> r.ready_times.shape, r.refused.size
    ((8,), 0)
    >>> fig = r.plot_timeline()          # Gantt, one colour per stage
    >>> fig = r.plot_cdf()               # CDF of ready times
    >>> fig = r.plot_memory()            # memory per instance, stacked by component

Host knobs pass straight through: ``cores=4``, ``memory_mib=8192``, ``disk_mib_s=500``,
``cpu_model="fifo"`` (whole cores, FIFO) or ``"ps"`` (processor sharing, default),
``admission="refuse"`` (or ``"wait"``). ``jitter=False`` removes randomness; ``cache="cold"``
starts with empty page/layer caches (the first container of an image pulls it).
"""

from __future__ import annotations

import os

from sim import scenarios
from sim.errors import SimError
from sim.results import Result

HOST_WORDS = {"cores": "cores", "memory": "memory_mib", "disk": "disk_mib_s", "cpu-model": "cpu_model",
              "admission": "admission"}


def run(scenario: str, profile="kvm-typical", kind: str | None = None, seed: int = 0, **params) -> Result:
    """Run ``scenario`` (start, storm, density, scaleout, cluster) with ``profile``; see module doc."""
    return scenarios.get(scenario)(profile, kind=kind, seed=seed, **params)


def this_machine() -> dict:
    """The host these commands run on, as host knobs: its usable cores and its memory (MiB)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    host = {"cores": cores}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    host["memory_mib"] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return host


def parse_host(text: str) -> dict:
    """``"cores=4,memory=8g,disk=500"`` -> host knobs (memory in MiB, or with a k/m/g/t unit)."""
    out: dict = {}
    for item in (i for i in text.split(",") if i):
        key, eq, value = item.partition("=")
        name = HOST_WORDS.get(key.strip())
        if not eq or name is None:
            raise SimError(f"--host takes {','.join(w + '=…' for w in HOST_WORDS)}, got {item!r}")
        out[name] = _host_value(name, value.strip())
    return out


def _host_value(name: str, value: str):
    if name in ("cpu_model", "admission"):
        return value
    units = {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}
    scale = units.get(value[-1:].lower(), None) if name == "memory_mib" else None
    number = value[:-1] if scale is not None else value
    try:
        x = float(number) * (scale or 1)
    except ValueError:
        raise SimError(f"--host {name.split('_')[0]}={value}: not a number") from None
    if x <= 0:
        raise SimError(f"--host {name.split('_')[0]}={value}: must be > 0")
    return int(x) if name == "cores" else x


def describe_host(host: dict) -> str:
    """``2 cores, 23.4 GiB`` for a table title."""
    parts = [f"{host['cores']} cores"] if "cores" in host else []
    if "memory_mib" in host:
        parts.append(f"{host['memory_mib'] / 1024:.1f} GiB")
    if "disk_mib_s" in host:
        parts.append(f"disk {host['disk_mib_s']:g} MiB/s")
    return ", ".join(parts)
