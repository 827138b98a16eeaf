"""Dockerfile text -> instructions, as docker's parser reads it.

Handles parser directives (``# escape=`` before anything else), comments, line continuations (``\\``
or the escape character), JSON (exec) and shell forms, flags (``--from=``, ``--chown=``), and the
variable substitution docker does in FROM, ENV, ARG, COPY, ADD, WORKDIR, USER, LABEL, EXPOSE, VOLUME,
STOPSIGNAL: ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR:+alt}``. Every error names the line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from runtime.errors import VmvcError

KNOWN = {"FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT",
         "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}
SUBSTITUTED = {"FROM", "ENV", "ARG", "COPY", "ADD", "WORKDIR", "USER", "LABEL", "EXPOSE", "VOLUME",
               "STOPSIGNAL", "ONBUILD"}
_FLAGS = {"FROM": {"platform"}, "COPY": {"from", "chown", "chmod"}, "ADD": {"chown", "chmod"},
          "RUN": set(), "HEALTHCHECK": {"interval", "timeout", "start-period", "retries"}}
_VAR = re.compile(r"\$(?:\{(\w+)(?::([-+])([^}]*))?\}|(\w+))")


class DockerfileError(VmvcError):
    """A problem with the Dockerfile itself (exit 1, as ``docker build``)."""

    exit_code = 1

    def __init__(self, line: int, message: str):
        super().__init__(f"Dockerfile:{line}: {message}" if line else f"Dockerfile: {message}")
        self.line = line


@dataclass
class Instruction:
    cmd: str  # upper case
    args: list[str]  # exec form or whitespace-split words (shell form: one string in ``text``)
    text: str  # the raw argument text, continuation lines joined
    line: int
    json_form: bool = False
    flags: dict = field(default_factory=dict)

    def original(self, text: str | None = None) -> str:
        """The instruction as written (``text``: its arguments after substitution)."""
        flags = " ".join(f"--{k}={v}" for k, v in self.flags.items())
        return " ".join(x for x in (self.cmd, flags, self.text if text is None else text) if x)


def _directives(lines: list[str]) -> dict:
    out = {}
    for ln in lines:
        m = re.match(r"^\s*#\s*(\w+)\s*=\s*(\S+)\s*$", ln)
        if not m:
            break
        out[m.group(1).lower()] = m.group(2)
    return out


def parse(text: str) -> list[Instruction]:
    lines = text.splitlines()
    escape = _directives(lines).get("escape", "\\")
    if escape not in ("\\", "`"):
        raise DockerfileError(1, f"invalid escape token {escape!r} does not match ` or \\")
    out: list[Instruction] = []
    buf, start = "", 0
    for no, raw in enumerate(lines, 1):
        stripped = raw.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if buf and stripped.startswith("#"):
            continue  # comments inside a continued instruction are dropped, as docker does
        if not buf:
            start = no
        if raw.rstrip().endswith(escape) and not raw.rstrip().endswith(escape * 2):
            buf += raw.rstrip()[:-1] + " "
            continue
        buf += raw
        out.append(_instruction(buf.strip(), start))
        buf = ""
    if buf.strip():
        out.append(_instruction(buf.strip(), start))
    if not out:
        raise DockerfileError(0, "the Dockerfile has no instructions")
    return out


def _instruction(line: str, no: int) -> Instruction:
    word, _, rest = line.partition(" ")
    cmd = word.upper()
    if cmd not in KNOWN:
        raise DockerfileError(no, f"unknown instruction: {word}")
    rest = rest.strip()
    flags = {}
    while cmd in ("COPY", "ADD", "FROM", "RUN", "HEALTHCHECK") and rest.startswith("--"):
        flag, _, rest = rest.partition(" ")
        name, eq, value = flag[2:].partition("=")
        if name not in _FLAGS[cmd]:
            raise DockerfileError(no, f"unknown flag: --{name}")
        flags[name] = value if eq else "true"
        rest = rest.strip()
    json_form = False
    args: list[str]
    if rest.startswith("["):
        try:
            parsed = json.loads(rest)
            if isinstance(parsed, list) and all(isinstance(a, str) for a in parsed):
                args, json_form = parsed, True
            else:
                args = rest.split()
        except ValueError:
            args = rest.split()  # not JSON: docker treats it as the shell form
    else:
        args = rest.split()
    if cmd in ("RUN", "CMD", "ENTRYPOINT", "SHELL") and not json_form:
        args = [rest] if rest else []
    if cmd == "SHELL" and not json_form:
        raise DockerfileError(no, "SHELL requires the arguments to be in JSON form")
    if not args and cmd not in ("CMD", "ENTRYPOINT"):
        raise DockerfileError(no, f"{cmd} requires at least one argument")
    return Instruction(cmd, args, rest, no, json_form, flags)


def substitute(text: str, env: dict, line: int = 0) -> str:
    """docker's variable expansion; ``\\$`` stays a literal ``$``."""
    def one(m: re.Match) -> str:
        name = m.group(1) or m.group(4)
        op, word = m.group(2), m.group(3)
        value = env.get(name)
        if op == "-":
            return value if value else word
        if op == "+":
            return word if value else ""
        return value or ""

    parts = text.split("\\$")
    return "$".join(_VAR.sub(one, p) for p in parts)


def key_values(inst: Instruction, env: dict) -> list[tuple[str, str]]:
    """ENV/LABEL/ARG pairs: ``K=V K2="v 2"`` or the old ``ENV K V``."""
    import shlex

    text = substitute(inst.text, env, inst.line) if inst.cmd != "ARG" else inst.text
    if inst.cmd in ("ENV", "LABEL") and "=" not in text.split(" ", 1)[0]:
        k, _, v = text.partition(" ")
        if not v.strip():
            raise DockerfileError(inst.line, f"{inst.cmd} names a key with no value: {k}")
        return [(k, v.strip())]
    try:
        words = shlex.split(text, posix=True)
    except ValueError as e:
        raise DockerfileError(inst.line, f"{inst.cmd}: {e}") from None
    out = []
    for w in words:
        k, eq, v = w.partition("=")
        if not k:
            raise DockerfileError(inst.line, f"{inst.cmd}: empty key in {w!r}")
        if not eq and inst.cmd != "ARG":
            raise DockerfileError(inst.line, f"{inst.cmd}: {w!r} is not KEY=VALUE")
        out.append((k, v if eq else None))
    return out
