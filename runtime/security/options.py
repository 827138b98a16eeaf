"""``--security-opt`` and ``--privileged``: what the user asked for, checked before anything exists.

Docker's grammar: ``seccomp=unconfined``, ``seccomp=PROFILE.json`` (the client reads the file and sends
its content, so the engine never opens a path the caller named), ``no-new-privileges[=true|false]``;
``apparmor=…`` and ``label=…`` are accepted and have no effect (this engine loads no LSM profile). The
old ``seccomp:…`` colon form is accepted too. Anything else is one clear line and exit 125.

The result, :func:`security`, is the small dict a container's process carries
(``config.json`` -> ``process["security"]``), or ``None`` for the defaults: Docker's default seccomp
profile and ``no_new_privs``. ``no_new_privs`` is always set by this engine (stricter than Docker, whose
default leaves it off), so ``no-new-privileges=false`` does not turn it off.
"""

from __future__ import annotations

from runtime.errors import VmvcError

UNCONFINED = "unconfined"


def _seccomp_value(value: str) -> str:
    """``unconfined`` or a profile's JSON text (read from the file named), checked."""
    from runtime.security import profile

    if value == UNCONFINED:
        return value
    if not value.lstrip().startswith(("{", "[")):
        try:
            with open(value, encoding="utf-8") as f:
                value = f.read(1 << 22)
        except (OSError, UnicodeDecodeError) as e:
            reason = getattr(e, "strerror", None) or str(e)
            raise VmvcError(f"opening seccomp profile ({value}) failed: {reason}") from None
    from runtime.linux.capabilities import DOCKER_DEFAULT
    from runtime.security.seccomp import blocked_needs, compile_profile

    blocked = blocked_needs(compile_profile(profile.load(value), DOCKER_DEFAULT))  # ProfileError: one line
    if blocked:
        raise profile.ProfileError(
            f"seccomp profile blocks {', '.join(blocked)}: the container's process needs them to start"
        )
    return value


def normalized(opts) -> list[str]:
    """``opts`` checked, with a ``seccomp=FILE`` replaced by ``seccomp=<its content>`` (read here, in
    the client, as Docker's CLI does)."""
    parse(opts)
    out = []
    for opt in opts:
        key, sep, value = opt.partition("=")
        if not sep and opt.startswith("seccomp:"):
            key, value = "seccomp", opt[len("seccomp:"):]
        out.append(f"seccomp={_seccomp_value(value)}" if key == "seccomp" else opt)
    return out


def parse(opts, privileged: bool = False) -> dict | None:
    """The ``process["security"]`` dict for ``--security-opt`` values ``opts``; ``None`` if default."""
    out: dict = {}
    for opt in opts or ():
        if not isinstance(opt, str):
            raise VmvcError(f"invalid --security-opt: {opt!r}")
        key, sep, value = opt.partition("=")
        if not sep and ":" in opt and opt.split(":", 1)[0] in ("seccomp", "apparmor", "label"):
            key, sep, value = opt.partition(":")
        if key == "seccomp" and sep and value:
            out["seccomp"] = _seccomp_value(value)
        elif key == "no-new-privileges" and (not sep or value in ("true", "false", "1", "0")):
            out["no_new_privileges"] = value not in ("false", "0")
        elif key in ("apparmor", "label") and sep:
            continue
        else:
            raise VmvcError(f'invalid --security-opt: "{opt}"')
    if privileged:
        out["privileged"] = True
    return out or None
