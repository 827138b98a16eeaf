"""Profiles: what a host and its VM boots / container starts cost, kept as JSON data files.

A profile names a reference host and, per instance kind (``"vm"`` or ``"container"``), the stages an
instance goes through. Each stage has CPU work, wall-clock latency, disk I/O and memory, so it
stretches under contention; the numbers and the sources they come from live in the file, not here.

    >>> from sim.profiles import load
    >>> p = load("microvm")
    >>> p.kinds
    ('vm',)
    >>> [s.name for s in p.instance().stages][:2]
    ['vmm_start', 'ram_reserve']
    >>> p.instance().solo_seconds(p.host) <= 0.125     # Firecracker: <=125 ms to guest init
    True

Search path: ``$VMVC_SIM_PROFILES`` (colon separated), then the user's directory
(:func:`user_dir`, where the benchmark CLI saves ``this-host``), then the profiles shipped in
``sim/profiles/``. :func:`sim.calibrate.profile_from_records` turns benchmark records into a profile
(calibrate builds on this module, never the reverse) and :func:`save_profile` writes it.

File format (units are in the key names; every key but ``name`` and ``stages`` has a default)::

    {"name": "crun", "title": "...", "sources": [{"id": "anchors", "cite": "...", "url": "..."}],
     "host": {"cores": 2, "memory_mib": 24576, "disk_mib_s": 1000, "cpu_model": "ps",
              "admission": "wait", "cgroup_move": {"first_ms": 12, "warm_ms": 0.4, "idle_after_ms": 1000}},
     "instances": {"container": {"image": "busybox", "host_overhead_mib": 0, "stages": [
         {"name": "namespaces", "cpu_ms": 1.5, "delay_ms": 0, "io_mib": 0, "mem_mib": 0,
          "shared_mib": 0, "component": "runtime", "jitter": 0.1, "cache": null, "hit": 0.05,
          "grace": false, "source": "anchors"}]}}}

``cache`` is ``null`` (no cache involved), ``"shared"`` (a host-wide page/layer cache keyed by image
and stage: the first instance pays in full, concurrent ones wait for it, later ones pay ``hit`` of
the cost) or ``"private"`` (a VM's own disk: every instance pays in full). ``grace`` marks the stage
that moves the instance into its cgroup (the host's RCU grace period, see :mod:`sim.host`).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from sim.errors import SimError

MIB = 1024 * 1024
KINDS = ("vm", "container")
CPU_MODELS = ("ps", "fifo")
ADMISSION = ("wait", "refuse")
CACHE = (None, "shared", "private")
SHIPPED = Path(__file__).with_name("profiles")
NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


@dataclass(frozen=True)
class Stage:
    """One step of a boot or start, in SI units (seconds, bytes)."""

    name: str
    cpu: float = 0.0  # core-seconds of CPU work
    delay: float = 0.0  # wall-clock latency that uses no host resource (timers, network, sleeps)
    io: float = 0.0  # bytes read from the host's disk
    mem: float = 0.0  # private memory the instance holds from this stage on
    shared: float = 0.0  # memory added once per host to the shared page/layer cache
    component: str = ""
    jitter: float = 0.0  # lognormal sigma of the stage's cost (median 1)
    cache: str | None = None
    hit: float = 0.05  # fraction of the cost paid when the shared cache already holds the data
    grace: bool = False
    source: str = ""

    def solo_seconds(self, host: HostSpec, warm: bool = False, idle: bool = True) -> float:
        """Duration alone; on an ``idle`` host the first cgroup move pays the grace period."""
        scale = self.hit if warm and self.cache == "shared" else 1.0
        grace = host.grace_first if self.grace and idle else 0.0
        return grace + scale * (self.delay + self.io / host.disk_bw + self.cpu)


@dataclass(frozen=True)
class InstanceSpec:
    """The stages of one kind of instance, plus memory it brings to the host."""

    kind: str
    stages: tuple[Stage, ...]
    image: str = ""
    host_overhead: float = 0.0  # bytes charged once per host (daemons: dockerd + containerd)

    @property
    def private_memory(self) -> float:
        return sum(s.mem for s in self.stages)

    @property
    def shared_memory(self) -> float:
        return sum(s.shared for s in self.stages)

    def memory_components(self) -> dict[str, float]:
        """Private bytes per component (``vmm``, ``guest RAM``, ``shim``, ...), in stage order."""
        out: dict[str, float] = {}
        for s in self.stages:
            if s.mem:
                key = s.component or s.name
                out[key] = out.get(key, 0.0) + s.mem
        return out

    def solo_seconds(self, host: HostSpec, warm: bool = False, idle: bool = True) -> float:
        """Sum of the stages alone on the host: the analytic time of a single start.

        ``warm``: the shared cache already holds this image (its stages pay their ``hit`` fraction).
        ``idle``: the host was idle, so the first cgroup move pays the RCU grace period; ``False`` is
        a start right after another (back to back), as the anchors' medians were measured.
        """
        return sum(s.solo_seconds(host, warm, idle) for s in self.stages)


@dataclass(frozen=True)
class HostSpec:
    cores: int = 2
    effective_cores: float | None = None  # PS capacity when other work shares the host (<= cores)
    memory: float = 24 * 1024 * MIB
    disk_bw: float = 1000 * MIB  # bytes/s shared among readers
    cpu_model: str = "ps"
    admission: str = "wait"
    grace_first: float = 0.012  # s: first cgroup move after the host was idle (RCU grace period)
    grace_warm: float = 0.0004  # s: back-to-back moves
    grace_idle_after: float = 1.0  # s without a move after which the next one pays grace_first


@dataclass(frozen=True)
class Profile:
    name: str
    host: HostSpec
    instances: dict[str, InstanceSpec]
    title: str = ""
    description: str = ""
    sources: tuple = ()
    path: str = ""
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self.instances)

    def instance(self, kind: str | None = None) -> InstanceSpec:
        """The spec for ``kind``; with one kind in the file, ``None`` picks it."""
        if kind is None:
            if len(self.instances) != 1:
                raise SimError(f"profile '{self.name}' has {', '.join(self.kinds)}: choose a kind")
            return next(iter(self.instances.values()))
        if kind not in self.instances:
            raise SimError(f"profile '{self.name}' has no '{kind}' (it has {', '.join(self.kinds)})")
        return self.instances[kind]

    def with_host(self, **changes) -> Profile:
        """A copy on a different host (``cores=4``, ``memory_mib=8192``, ``cpu_model="fifo"``...)."""
        base = host_dict(self.host)
        if "cores" in changes:  # a different machine: the measured share of the old one no longer applies
            base.pop("effective_cores", None)
        return replace(self, host=host_spec({**base, **changes}, where=self.name))


# --- loading and validation -------------------------------------------------------------------


def user_dir() -> Path:
    """Where saved profiles live: ``$VMVC_ROOT/sim/profiles`` (same root rule as the engine)."""
    root = os.environ.get("VMVC_ROOT")
    if not root:
        xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local/share")
        root = "/var/lib/vmvc" if os.geteuid() == 0 else os.path.join(xdg, "vmvc")
    return Path(root) / "sim" / "profiles"


def search_path() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("VMVC_SIM_PROFILES", "").split(":") if p]
    return [*extra, user_dir(), SHIPPED]


def available() -> dict[str, Path]:
    """Profile name -> file, earlier directories on the search path winning."""
    found: dict[str, Path] = {}
    for d in search_path():
        try:
            files = sorted(d.glob("*.json")) if d.is_dir() else []
        except PermissionError:  # another user's state root (vmvc run as non-root): shipped ones only
            files = []
        for f in files:
            found.setdefault(f.stem, f)
    return dict(sorted(found.items()))


def load(name_or_path: str | os.PathLike | dict | Profile) -> Profile:
    """A profile by name (search path), by file path, or from an already-parsed dict."""
    if isinstance(name_or_path, Profile):
        return name_or_path
    if isinstance(name_or_path, dict):
        return parse(name_or_path)
    text = str(name_or_path)
    path = Path(text)
    if not (text.endswith(".json") or os.sep in text):
        known = available()
        if text not in known:
            hint = " — measure it first: vmvc bench, then vmvc sim calibrate" if text == "this-host" else ""
            raise SimError(f"unknown profile '{text}' (known: {', '.join(known)}){hint}")
        path = known[text]
    return parse(read_json(path), path=str(path))


def read_json(path: Path):
    """A JSON file's content, or a :class:`SimError` that says what is wrong with it."""
    try:
        return json.loads(Path(path).read_text())
    except OSError as e:
        raise SimError(f"cannot read {path}: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise SimError(f"{path} is not valid JSON: {e}") from None


def _number(d: dict, key: str, default: float, where: str, minimum: float = 0.0) -> float:
    value = d.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= minimum:
        raise SimError(f"{where}: '{key}' must be a number >= {minimum:g}, got {value!r}")
    return float(value)


def _only(d: dict, keys: set[str], where: str) -> None:
    if not isinstance(d, dict):
        raise SimError(f"{where}: expected an object")
    unknown = set(d) - keys
    if unknown:
        raise SimError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")


HOST_KEYS = {"cores", "effective_cores", "memory_mib", "disk_mib_s", "cpu_model", "admission", "cgroup_move"}
STAGE_KEYS = {
    "name",
    "cpu_ms",
    "delay_ms",
    "io_mib",
    "mem_mib",
    "shared_mib",
    "component",
    "jitter",
    "cache",
    "hit",
    "grace",
    "source",
}


def host_spec(d: dict, where: str = "host") -> HostSpec:
    _only(d, HOST_KEYS, f"{where}: host")
    cores = d.get("cores", 2)
    if isinstance(cores, bool) or not isinstance(cores, int) or cores < 1:
        raise SimError(f"{where}: host 'cores' must be an integer >= 1, got {cores!r}")
    if d.get("cpu_model", "ps") not in CPU_MODELS:
        raise SimError(f"{where}: host 'cpu_model' must be one of {', '.join(CPU_MODELS)}")
    if d.get("admission", "wait") not in ADMISSION:
        raise SimError(f"{where}: host 'admission' must be one of {', '.join(ADMISSION)}")
    grace = d.get("cgroup_move", {})
    _only(grace, {"first_ms", "warm_ms", "idle_after_ms"}, f"{where}: host.cgroup_move")
    effective = d.get("effective_cores")
    if effective is not None:
        effective = _number(d, "effective_cores", 0, where, 1.0)
        if effective > cores:
            raise SimError(f"{where}: host 'effective_cores' must be between 1 and cores ({cores})")
    return HostSpec(
        cores=cores,
        effective_cores=effective,
        memory=_number(d, "memory_mib", 24576, where, 1e-9) * MIB,
        disk_bw=_number(d, "disk_mib_s", 1000, where, 1e-9) * MIB,
        cpu_model=d.get("cpu_model", "ps"),
        admission=d.get("admission", "wait"),
        grace_first=_number(grace, "first_ms", 12, where) / 1e3,
        grace_warm=_number(grace, "warm_ms", 0.4, where) / 1e3,
        grace_idle_after=_number(grace, "idle_after_ms", 1000, where) / 1e3,
    )


def host_dict(h: HostSpec) -> dict:
    extra = {"effective_cores": h.effective_cores} if h.effective_cores is not None else {}
    return {
        "cores": h.cores,
        **extra,
        "memory_mib": h.memory / MIB,
        "disk_mib_s": h.disk_bw / MIB,
        "cpu_model": h.cpu_model,
        "admission": h.admission,
        "cgroup_move": {
            "first_ms": h.grace_first * 1e3,
            "warm_ms": h.grace_warm * 1e3,
            "idle_after_ms": h.grace_idle_after * 1e3,
        },
    }


def _stage(d: dict, where: str) -> Stage:
    _only(d, STAGE_KEYS, where)
    name = d.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise SimError(f"{where}: 'name' must be a lower-case identifier, got {name!r}")
    where = f"{where} ({name})"
    cache = d.get("cache")
    if cache not in CACHE:
        raise SimError(f'{where}: \'cache\' must be null, "shared" or "private", got {cache!r}')
    hit = _number(d, "hit", 0.05, where)
    if hit > 1:
        raise SimError(f"{where}: 'hit' is a fraction of the cost, got {hit!r}")
    shared = _number(d, "shared_mib", 0, where) * MIB
    if shared and cache != "shared":
        raise SimError(f'{where}: \'shared_mib\' needs "cache": "shared"')
    if not isinstance(d.get("grace", False), bool):
        raise SimError(f"{where}: 'grace' must be true or false")
    return Stage(
        name=name,
        cpu=_number(d, "cpu_ms", 0, where) / 1e3,
        delay=_number(d, "delay_ms", 0, where) / 1e3,
        io=_number(d, "io_mib", 0, where) * MIB,
        mem=_number(d, "mem_mib", 0, where) * MIB,
        shared=shared,
        component=str(d.get("component", "")),
        jitter=_number(d, "jitter", 0, where),
        cache=cache,
        hit=hit,
        grace=d.get("grace", False),
        source=str(d.get("source", "")),
    )


def _instance(kind: str, d: dict, where: str) -> InstanceSpec:
    where = f"{where}: instances.{kind}"
    _only(d, {"stages", "image", "host_overhead_mib", "notes"}, where)
    stages = d.get("stages")
    if not isinstance(stages, list) or not stages:
        raise SimError(f"{where}: 'stages' must be a non-empty list")
    parsed = tuple(_stage(s, f"{where}.stages[{i}]") for i, s in enumerate(stages))
    names = [s.name for s in parsed]
    if len(set(names)) != len(names):
        raise SimError(f"{where}: stage names repeat")
    return InstanceSpec(
        kind=kind,
        stages=parsed,
        image=str(d.get("image", "")),
        host_overhead=_number(d, "host_overhead_mib", 0, where) * MIB,
    )


def parse(data: dict, path: str = "") -> Profile:
    """Validate a profile dict (as in the JSON file) into a :class:`Profile`."""
    where = path or "profile"
    _only(data, {"name", "title", "description", "sources", "host", "instances", "notes", "measured"}, where)
    name = data.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise SimError(f"{where}: 'name' must be a lower-case identifier, got {name!r}")
    instances = data.get("instances")
    if not isinstance(instances, dict) or not instances:
        raise SimError(f"{where}: 'instances' must map a kind (vm, container) to its stages")
    for kind in instances:
        if kind not in KINDS:
            raise SimError(f"{where}: unknown instance kind '{kind}' (kinds: {', '.join(KINDS)})")
    specs = {k: _instance(k, v, where) for k, v in instances.items()}
    specs = {k: replace(v, image=v.image or name) for k, v in specs.items()}
    return Profile(
        name=name,
        host=host_spec(data.get("host", {}), where),
        instances=specs,
        title=str(data.get("title", "")),
        description=str(data.get("description", "")),
        sources=tuple(data.get("sources", ())),
        path=path,
        raw=data,
    )


def to_dict(profile: Profile) -> dict:
    """The JSON form of a profile (inverse of :func:`parse`)."""
    out = {
        "name": profile.name,
        "title": profile.title,
        "description": profile.description,
        "sources": list(profile.sources),
        "host": host_dict(profile.host),
        "instances": {},
    }
    for kind, spec in profile.instances.items():
        stages = []
        for s in spec.stages:
            stages.append(
                {
                    "name": s.name,
                    "cpu_ms": s.cpu * 1e3,
                    "delay_ms": s.delay * 1e3,
                    "io_mib": s.io / MIB,
                    "mem_mib": s.mem / MIB,
                    "shared_mib": s.shared / MIB,
                    "component": s.component,
                    "jitter": s.jitter,
                    "cache": s.cache,
                    "hit": s.hit,
                    "grace": s.grace,
                    "source": s.source,
                }
            )
        out["instances"][kind] = {
            "image": spec.image,
            "host_overhead_mib": spec.host_overhead / MIB,
            "stages": stages,
        }
    if "measured" in profile.raw:
        out["measured"] = profile.raw["measured"]
    return out


def save_profile(profile: Profile | dict, directory: str | os.PathLike | None = None) -> Path:
    """Write ``<name>.json`` into ``directory`` (default :func:`user_dir`); returns the path.

    The dict is validated first, so a file on disk always loads.
    """
    data = profile if isinstance(profile, dict) else to_dict(profile)
    parsed = parse(data)
    target = Path(directory) if directory is not None else user_dir()
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"{parsed.name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)
    return path
