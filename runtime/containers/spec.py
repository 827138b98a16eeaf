"""What a container is before it runs: the user's request (:class:`Spec`) and its parsers.

A :class:`Spec` is what ``vmvc create``/``run`` flags or the daemon's create body say. Together with
the image's config it becomes the process to run (:func:`process`): docker's rules for
Entrypoint/Cmd, Env merging, WorkingDir and User.
"""

from __future__ import annotations

import os

from runtime.errors import VmvcError

NETWORKS = ("private", "none", "host")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
MIN_MEMORY = 6 << 20  # docker's minimum
INIT_PATH = "/sbin/vmvc-init"  # --init's PID 1 inside the container (runtime.containers.tinyinit)


class Volume(tuple):
    """A bind mount ``host:container[:ro]`` (a small tuple: no ``typing`` import on the run path)."""

    __slots__ = ()

    def __new__(cls, host: str, container: str, readonly: bool = False):
        return tuple.__new__(cls, (host, container, bool(readonly)))

    host = property(lambda self: self[0])
    container = property(lambda self: self[1])
    readonly = property(lambda self: self[2])

    def _asdict(self) -> dict:
        return {"host": self[0], "container": self[1], "readonly": self[2]}

    def __repr__(self) -> str:
        return f"Volume({self[0]!r}, {self[1]!r}, readonly={self[2]!r})"


def valid_name(name: str) -> bool:
    """docker's ``[a-zA-Z0-9][a-zA-Z0-9_.-]*``."""
    return bool(name) and name[0] not in "_.-" and set(name) <= _NAME_CHARS


# field -> default (a plain class, not a dataclass: ``vmvc run`` must not pay for importing dataclasses)
FIELDS = {
    "image": None,
    "cmd": None,
    "entrypoint": None,
    "env": (),
    "workdir": None,
    "user": None,
    "hostname": None,
    "name": None,
    "volumes": (),
    "memory": None,
    "cpus": None,
    "pids_limit": None,
    "network": "private",
    "tty": False,
    "stdin": False,
    "auto_remove": False,
    "labels": None,
    "security_opt": (),  # docker's --security-opt: seccomp=unconfined|PROFILE, no-new-privileges
    "privileged": False,
    "init": False,  # --init: runtime.containers.tinyinit as PID 1, the command as its child
    "log_opt": (),  # --log-opt max-size=, max-file=: json-file rotation (runtime.containers.logs)
    "storage_opt": (),  # --storage-opt size=: checked against the filesystem (runtime.containers.storage)
}


class Spec:
    """A container request. ``cmd``/``entrypoint`` None mean the image's; limits None mean unlimited.

    Fields: image, cmd, entrypoint, env (``["K=V"]``), workdir, user, hostname, name, volumes
    (:class:`Volume`), memory (bytes), cpus, pids_limit, network (private, none, host), tty, stdin,
    auto_remove (``--rm``), labels, security_opt (``seccomp=…`` with a profile file's *content* once
    checked, see :mod:`runtime.security.options`), privileged. Invalid values raise
    :class:`VmvcError` here, before anything exists.
    """

    __slots__ = tuple(FIELDS)

    def __init__(self, image: str, cmd: list[str] | None = None, **kw) -> None:
        unknown = set(kw) - set(FIELDS)
        if unknown:
            raise TypeError(f"unknown Spec fields: {', '.join(sorted(unknown))}")
        for key, default in FIELDS.items():
            setattr(self, key, kw.get(key, default))
        self.image, self.cmd = image, list(cmd) if cmd is not None else None
        self.env = _resolved_env(self.env)
        self.volumes = [Volume(*v) if not isinstance(v, Volume) else v for v in self.volumes]
        self.labels = dict(self.labels or {})
        self._validate()

    def _validate(self) -> None:
        if not self.image:
            raise VmvcError("an image is required")
        if self.network not in NETWORKS:
            raise VmvcError(f"invalid network mode {self.network!r}: use one of {', '.join(NETWORKS)}")
        if self.name is not None and not valid_name(self.name):
            raise VmvcError(
                f"Invalid container name ({self.name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )
        for flag, value in (("--memory", self.memory), ("--pids-limit", self.pids_limit)):
            if value is not None and not (isinstance(value, int) and -(1 << 63) < value < 1 << 63):
                raise VmvcError(f"invalid {flag} {value!r}: not a 64-bit integer")
        if self.memory == 0:
            self.memory = None  # docker: -m 0 is no limit
        if self.memory is not None and self.memory < MIN_MEMORY:
            raise VmvcError("Minimum memory limit allowed is 6MB")
        if self.cpus is not None and not (isinstance(self.cpus, (int, float)) and self.cpus > 0):
            raise VmvcError(f"invalid --cpus {self.cpus}: must be a positive number")  # also nan
        ncpu = len(os.sched_getaffinity(0)) if self.cpus is not None else 0  # docker: runtime.NumCPU()
        if self.cpus is not None and self.cpus > ncpu:
            raise VmvcError(
                f"range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"
            )
        if self.workdir is not None and not self.workdir.startswith("/"):
            raise VmvcError(
                f"the working directory '{self.workdir}' is invalid, it needs to be an absolute path"
            )
        if self.pids_limit is not None and self.pids_limit <= 0:
            self.pids_limit = None  # docker: 0 or -1 mean unlimited
        self.volumes = [_checked_volume(v) for v in self.volumes]
        self.storage_opt = list(self.storage_opt)  # a list either way: a spec equals its JSON round trip
        if self.storage_opt:
            parse_storage_opts(self.storage_opt)
        self.privileged = bool(self.privileged)
        self.log_opt = list(self.log_opt)
        if self.log_opt:  # imported only when asked for: not on the plain run path
            from runtime.containers.logs import parse_opts

            parse_opts(self.log_opt)
        if self.security_opt:  # imported only when asked for: not on the plain run path
            from runtime.security.options import normalized

            self.security_opt = normalized(self.security_opt)
        else:
            self.security_opt = []

    def to_dict(self) -> dict:
        out = {key: getattr(self, key) for key in FIELDS}
        out["volumes"] = [v._asdict() for v in self.volumes]
        return out

    @classmethod
    def from_dict(cls, data: dict) -> Spec:
        data = dict(data)
        data["volumes"] = [
            Volume(**v) if isinstance(v, dict) else Volume(*v) for v in data.get("volumes") or []
        ]
        return cls(**data)

    def __eq__(self, other) -> bool:
        return isinstance(other, Spec) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={getattr(self, k)!r}" for k, d in FIELDS.items() if getattr(self, k) != d)
        return f"Spec({fields})"


def _resolved_env(env) -> list[str]:
    """docker's ``-e FOO`` (no ``=``): FOO's value from the caller's environment, left out if unset."""
    out = []
    for item in env:
        if "=" in item:
            out.append(item)
        elif item in os.environ:
            out.append(f"{item}={os.environ[item]}")
    return out


def _checked_volume(v: Volume) -> Volume:
    """Absolute paths, the container side cleaned (``//``, ``.``, trailing ``/``); no ``..`` in it and
    not ``/`` itself (docker: "destination can't be '/'"). The engine still resolves the target
    inside the rootfs at start (image symlinks), see :mod:`runtime.containers.mounts`."""
    spec = f"{v.host}:{v.container}"
    if not (v.host.startswith("/") and v.container.startswith("/")):
        raise VmvcError(f"invalid volume {spec}: both paths must be absolute")
    if ".." in v.container.split("/"):
        raise VmvcError(f"invalid volume specification: '{spec}': destination may not contain '..'")
    container = "/" + "/".join(p for p in v.container.split("/") if p and p != ".")
    if container == "/":
        raise VmvcError(f"invalid volume specification: '{spec}': destination can't be '/'")
    return Volume(v.host, container, v.readonly)


def parse_storage_opts(opts: list[str]) -> dict[str, int]:
    """``--storage-opt``: ``["size=10G"]`` -> ``{"size": 10737418240}``; unknown keys refused as docker
    does (whether the filesystem can enforce it is :mod:`runtime.containers.storage`'s question)."""
    out: dict[str, int] = {}
    for opt in opts:
        key, eq, value = opt.partition("=")
        if not eq:
            raise VmvcError(f"invalid storage option {opt!r}: expected key=value")
        if key.strip().lower() != "size":
            raise VmvcError(f"--storage-opt {key} is not supported: the only option is size")
        out["size"] = parse_memory(value, "--storage-opt")
    return out


def parse_memory(text: str, flag: str = "-m, --memory") -> int:
    """``"64m"`` -> 67108864, like docker's ``RAMInBytes`` (binary units)."""
    s = text.strip().lower()
    if s.endswith("b") and len(s) > 1 and s[-2] in _UNITS:
        s = s[:-1]  # "64mb" like "64m"
    unit = s[-1:] if s[-1:] in _UNITS and s[-1:].isalpha() else ""
    number = s[: len(s) - len(unit)].strip()
    try:
        if not number or not number.replace(".", "", 1).isdigit():
            raise ValueError
        return int(float(number) * _UNITS[unit])
    except ValueError:
        raise VmvcError(f'invalid argument "{text}" for "{flag}" flag: invalid size: \'{text}\'') from None


def parse_cpus(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise VmvcError(
            f'invalid argument "{text}" for "--cpus" flag: failed to parse {text} as a rational number'
        ) from None
    if value != value or value in (float("inf"), float("-inf")):  # nan, inf: float() takes them
        raise VmvcError(f'invalid argument "{text}" for "--cpus" flag: not a finite number')
    if value <= 0:
        raise VmvcError(f'invalid argument "{text}" for "--cpus" flag: must be positive')
    return value


def parse_volume(text: str) -> Volume:
    parts = text.split(":")
    if len(parts) == 2:
        return Volume(parts[0], parts[1])
    if len(parts) == 3 and parts[2] in ("ro", "rw"):
        return Volume(parts[0], parts[1], parts[2] == "ro")
    raise VmvcError(f"invalid volume specification: '{text}' (want /host:/container[:ro])")


def process(spec: Spec, image_config: dict) -> dict:
    """The process to run: ``args``, ``env``, ``cwd``, ``user``, merged from image and spec."""
    entrypoint = spec.entrypoint if spec.entrypoint is not None else (image_config.get("Entrypoint") or [])
    if spec.cmd:
        cmd = spec.cmd
    elif spec.entrypoint is not None:
        cmd = []  # a new entrypoint drops the image's Cmd, as in docker
    else:
        cmd = image_config.get("Cmd") or []
    args = list(entrypoint) + list(cmd)
    if not args:
        raise VmvcError("no command specified")
    if spec.init:
        args = [INIT_PATH, "--", *args]
    env: dict[str, str] = {}
    for item in [*(image_config.get("Env") or []), *spec.env]:
        key, sep, value = item.partition("=")
        env[key] = value if sep else env.get(key, "")
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    if spec.tty:
        env.setdefault("TERM", "xterm")
    out = {
        "args": args,
        "env": [f"{k}={v}" for k, v in env.items()],
        "cwd": spec.workdir or image_config.get("WorkingDir") or "/",
        "user": spec.user or image_config.get("User") or "",
    }
    if spec.security_opt or spec.privileged:  # absent: Docker's defaults (runtime.containers.init.confine)
        from runtime.security.options import parse

        out["security"] = parse(spec.security_opt, spec.privileged)
    return out


def etc_files(hostname: str) -> dict[str, str]:
    """``/etc/hostname`` and ``/etc/hosts`` of a container. The engine writes them into the upper dir
    at create time, on the host, so a start pays no overlay copy-up of ``/etc``."""
    return {
        "etc/hostname": hostname + "\n",
        "etc/hosts": f"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n127.0.1.1\t{hostname}\n",
    }
