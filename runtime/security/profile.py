"""Docker's seccomp profile format: load, check, and resolve for this host (x86_64, caps, kernel).

A profile is what ``docker run --security-opt seccomp=PROFILE.json`` takes::

    {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
     "architectures": ["SCMP_ARCH_X86_64"],            # or "archMap": [...]
     "flags": ["SCMP_FILTER_FLAG_SPEC_ALLOW"],         # optional, as runc takes them
     "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ALLOW",
                   "args": [{"index": 0, "value": 1, "valueTwo": 0, "op": "SCMP_CMP_EQ"}],
                   "includes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["amd64"], "minKernel": "4.8"},
                   "excludes": {"caps": [...], "arches": [...]}, "errnoRet": 38}]}

:func:`load` checks every field it uses and raises :class:`ProfileError` with one line naming the
field, so a malformed file is refused before anything is created. :func:`resolve` keeps the rules
that apply to this container (its capabilities, this architecture and kernel) and maps names to
x86_64 numbers; names x86_64 does not have (``chown32``, ``_llseek``, other arches' calls) are
skipped, as runc does. ``"SCMP_ACT_NOTIFY"`` (a user-space supervisor) is not supported.

The default profile, ``docker-default.json`` beside this module, is moby's
``profiles/seccomp/default.json`` (github.com/moby/profiles, Apache-2.0, as vendored in moby/moby
at commit b985e2313a86), unchanged: data, read by this loader.
"""

from __future__ import annotations

import json
import os

from runtime.errors import VmvcError
from runtime.security.x86_64 import NUMBERS

# action names -> SECCOMP_RET_* (linux/seccomp.h); ERRNO and TRACE take a 16-bit data value
ACTIONS = {
    "SCMP_ACT_KILL": 0x00000000,  # KILL_THREAD
    "SCMP_ACT_KILL_THREAD": 0x00000000,
    "SCMP_ACT_KILL_PROCESS": 0x80000000,
    "SCMP_ACT_TRAP": 0x00030000,
    "SCMP_ACT_ERRNO": 0x00050000,
    "SCMP_ACT_TRACE": 0x7FF00000,
    "SCMP_ACT_LOG": 0x7FFC0000,
    "SCMP_ACT_ALLOW": 0x7FFF0000,
}
ALLOW = ACTIONS["SCMP_ACT_ALLOW"]
KILL_PROCESS = ACTIONS["SCMP_ACT_KILL_PROCESS"]
EPERM = 1
OPS = ("SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
       "SCMP_CMP_MASKED_EQ")
# the names this host's architecture answers to in "arches" / "architectures"
OUR_ARCHES = ("amd64", "x86_64", "SCMP_ARCH_X86_64")
# seccomp(2) SECCOMP_SET_MODE_FILTER flags a profile may ask for (runc's names, both spellings)
FLAGS = {"SECCOMP_FILTER_FLAG_LOG": 2, "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4}
FLAGS.update({k.replace("SECCOMP_", "SCMP_"): v for k, v in list(FLAGS.items())})
DEFAULT_PATH = os.path.join(os.path.dirname(__file__), "docker-default.json")


class ProfileError(VmvcError):
    """A seccomp profile that cannot be used; the message is the one line the user sees."""

    exit_code = 125


class Rule(tuple):
    """One resolved rule: ``(nr, action, args)``; ``args`` a tuple of ``(index, op, value, value_two)``."""

    __slots__ = ()
    nr = property(lambda self: self[0])
    action = property(lambda self: self[1])
    args = property(lambda self: self[2])


def action_value(name, errno_ret, where: str) -> int:
    if not isinstance(name, str) or name not in ACTIONS:
        raise ProfileError(f"seccomp profile: {where}: unknown or unsupported action {name!r}")
    value = ACTIONS[name]
    if name in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"):
        data = EPERM if errno_ret is None else errno_ret
        if not isinstance(data, int) or isinstance(data, bool) or not 0 <= data <= 0xFFFF:
            raise ProfileError(f"seccomp profile: {where}: errnoRet must be an integer 0-65535")
        value |= data
    return value


def _uint64(value, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << 64:
        raise ProfileError(f"seccomp profile: {where}: must be an integer 0 to 2^64-1")
    return value


def _strings(value, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProfileError(f"seccomp profile: {where}: must be a list of strings")
    return value


def _kernel(text: str, where: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in text.split("-")[0].split(".")[:2])
    except (ValueError, AttributeError):
        raise ProfileError(f"seccomp profile: {where}: not a kernel version like '4.8'") from None


def _filter(spec, where: str) -> dict:
    if spec is None:
        return {}
    if not isinstance(spec, dict):
        raise ProfileError(f"seccomp profile: {where}: must be an object")
    out = {"caps": _strings(spec.get("caps"), f"{where}.caps"),
           "arches": _strings(spec.get("arches"), f"{where}.arches")}
    if spec.get("minKernel"):
        out["minKernel"] = _kernel(spec["minKernel"], f"{where}.minKernel")
    return out


def load(source) -> dict:
    """A checked profile from a path, JSON text or an already parsed dict; raises :class:`ProfileError`."""
    if isinstance(source, dict):
        data = source
    elif not isinstance(source, (str, bytes, os.PathLike)):  # an int would be opened as a file descriptor
        raise ProfileError(f"seccomp profile: a path, JSON text or object, not {type(source).__name__}")
    else:
        text = source
        if not str(source).lstrip().startswith(("{", "[")):
            try:
                with open(source, encoding="utf-8") as f:
                    text = f.read(1 << 22)
            except (OSError, UnicodeDecodeError) as e:
                raise ProfileError(f"opening seccomp profile ({source}) failed: {e}") from None
        try:
            data = json.loads(text)
        except ValueError as e:
            raise ProfileError(f"decoding seccomp profile failed: {e}") from None
    if not isinstance(data, dict):
        raise ProfileError("seccomp profile: must be a JSON object")
    out = {"defaultAction": action_value(data.get("defaultAction"), data.get("defaultErrnoRet"),
                                         "defaultAction")}
    arches = _strings(data.get("architectures"), "architectures")
    for entry in data.get("archMap") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("architecture"), str):
            raise ProfileError("seccomp profile: archMap entries need an architecture")
        arches.append(entry["architecture"])
    out["arches"] = arches
    out["flags"] = 0
    for name in _strings(data.get("flags"), "flags"):
        if name not in FLAGS:
            raise ProfileError(f"seccomp profile: flags: unknown flag {name!r}")
        out["flags"] |= FLAGS[name]
    calls = data.get("syscalls")
    calls = [] if calls is None else calls
    if not isinstance(calls, list):
        raise ProfileError("seccomp profile: syscalls must be a list")
    out["syscalls"] = [_syscall(c, i) for i, c in enumerate(calls)]
    return out


def _syscall(call, i: int) -> dict:
    where = f"syscalls[{i}]"
    if not isinstance(call, dict):
        raise ProfileError(f"seccomp profile: {where}: must be an object")
    names = _strings(call.get("names"), f"{where}.names")
    if call.get("name"):  # the old single-name form
        names.append(str(call["name"]))
    if not names:
        raise ProfileError(f"seccomp profile: {where}: no syscall names")
    args = []
    for j, arg in enumerate(call.get("args") or []):
        at = f"{where}.args[{j}]"
        if not isinstance(arg, dict):
            raise ProfileError(f"seccomp profile: {at}: must be an object")
        index = arg.get("index")
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index <= 5:
            raise ProfileError(f"seccomp profile: {at}.index: must be 0-5")
        if arg.get("op") not in OPS:
            raise ProfileError(f"seccomp profile: {at}.op: unknown operator {arg.get('op')!r}")
        args.append((index, arg["op"], _uint64(arg.get("value", 0), f"{at}.value"),
                     _uint64(arg.get("valueTwo", 0), f"{at}.valueTwo")))
    return {
        "names": names,
        "action": action_value(call.get("action"), call.get("errnoRet"), f"{where}.action"),
        "args": tuple(args),
        "includes": _filter(call.get("includes"), f"{where}.includes"),
        "excludes": _filter(call.get("excludes"), f"{where}.excludes"),
    }


def host_kernel() -> tuple[int, ...]:
    return _kernel(os.uname().release, "uname")


def _applies(call: dict, caps: set[str], kernel: tuple[int, ...]) -> bool:
    inc, exc = call["includes"], call["excludes"]
    if inc.get("caps") and not all(c.upper() in caps for c in inc["caps"]):
        return False
    if inc.get("arches") and not any(a in OUR_ARCHES for a in inc["arches"]):
        return False
    if inc.get("minKernel") and kernel < inc["minKernel"]:
        return False
    if exc.get("caps") and any(c.upper() in caps for c in exc["caps"]):
        return False
    if exc.get("arches") and any(a in OUR_ARCHES for a in exc["arches"]):
        return False
    return True


def resolve(profile: dict, caps, kernel: tuple[int, ...] | None = None) -> tuple[int, list[Rule]]:
    """``(default_action, rules)`` for x86_64 and a container with capabilities ``caps`` (names like
    ``"CAP_SYS_ADMIN"``); the rules in profile order. A profile whose ``architectures`` leave out
    x86_64 is refused (the container could not make a single system call)."""
    if profile["arches"] and not any(a in OUR_ARCHES for a in profile["arches"]):
        raise ProfileError("seccomp profile: architectures do not include SCMP_ARCH_X86_64")
    caps = {("CAP_" + c.upper().removeprefix("CAP_")) for c in caps}
    kernel = kernel or host_kernel()
    rules = []
    for call in profile["syscalls"]:
        if not _applies(call, caps, kernel):
            continue
        for name in call["names"]:
            nr = NUMBERS.get(name)
            if nr is not None:
                rules.append(Rule((nr, call["action"], call["args"])))
    return profile["defaultAction"], rules


def default_profile() -> dict:
    return load(DEFAULT_PATH)
