"""What a container is before it runs: the user's request (:class:`Spec`) and its parsers.

A :class:`Spec` is what ``vmvc create``/``run`` flags or the daemon's create body say. Together with
the image's config it becomes the process to run (:func:`process`): docker's rules for
Entrypoint/Cmd, Env merging, WorkingDir and User.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from runtime.errors import VmvcError

NETWORKS = ("private", "none", "host")
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([bkmgt]?)b?$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
MIN_MEMORY = 6 << 20  # docker's minimum


@dataclass(frozen=True)
class Volume:
    """A bind mount ``host:container[:ro]``."""

    host: str
    container: str
    readonly: bool = False


@dataclass
class Spec:
    image: str
    cmd: list[str] | None = None  # None: the image's Cmd
    entrypoint: list[str] | None = None  # None: the image's Entrypoint
    env: list[str] = field(default_factory=list)
    workdir: str | None = None
    user: str | None = None
    hostname: str | None = None
    name: str | None = None
    volumes: list[Volume] = field(default_factory=list)
    memory: int | None = None
    cpus: float | None = None
    pids_limit: int | None = None
    network: str = "private"
    tty: bool = False
    stdin: bool = False
    auto_remove: bool = False
    labels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.network not in NETWORKS:
            raise VmvcError(f"invalid network mode {self.network!r}: use one of {', '.join(NETWORKS)}")
        if self.name is not None and not _NAME.match(self.name):
            raise VmvcError(
                f"Invalid container name ({self.name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )
        if self.memory is not None and self.memory < MIN_MEMORY:
            raise VmvcError("Minimum memory limit allowed is 6MB")
        if self.cpus is not None and self.cpus <= 0:
            raise VmvcError(f"invalid --cpus {self.cpus}: must be positive")
        if self.pids_limit is not None and self.pids_limit <= 0:
            self.pids_limit = None  # docker: 0 or -1 mean unlimited
        for v in self.volumes:
            if not (v.host.startswith("/") and v.container.startswith("/")):
                raise VmvcError(f"invalid volume {v.host}:{v.container}: both paths must be absolute")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Spec:
        data = dict(data)
        data["volumes"] = [Volume(**v) for v in data.get("volumes", [])]
        return cls(**data)


def parse_memory(text: str, flag: str = "-m, --memory") -> int:
    """``"64m"`` -> 67108864, like docker's ``RAMInBytes`` (binary units)."""
    m = _SIZE.match(text.strip())
    if not m:
        raise VmvcError(f'invalid argument "{text}" for "{flag}" flag: invalid size: \'{text}\'')
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def parse_cpus(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise VmvcError(
            f'invalid argument "{text}" for "--cpus" flag: failed to parse {text} as a rational number'
        ) from None
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
    env: dict[str, str] = {}
    for item in [*(image_config.get("Env") or []), *spec.env]:
        key, sep, value = item.partition("=")
        env[key] = value if sep else env.get(key, "")
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    if spec.tty:
        env.setdefault("TERM", "xterm")
    return {
        "args": args,
        "env": [f"{k}={v}" for k, v in env.items()],
        "cwd": spec.workdir or image_config.get("WorkingDir") or "/",
        "user": spec.user or image_config.get("User") or "",
    }


def etc_files(hostname: str) -> dict[str, str]:
    """``/etc/hostname`` and ``/etc/hosts`` of a container. The engine writes them into the upper dir
    at create time, on the host, so a start pays no overlay copy-up of ``/etc``."""
    return {
        "etc/hostname": hostname + "\n",
        "etc/hosts": f"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n127.0.1.1\t{hostname}\n",
    }
