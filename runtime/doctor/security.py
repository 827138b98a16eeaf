"""``vmvc doctor --security``: the security figures of issue 10 (:mod:`runtime.security.figures`),
measured on a throw-away state root, as a table (or ``--json``). Exit 1 when anything got through."""

from __future__ import annotations

import sys

NEEDS = ("root", "overlayfs", "cgroups", "busybox", "seccomp")


def main(as_json: bool = False) -> int:
    from runtime.doctor import host
    from runtime.security import figures

    doctor = host()
    missing = [n for n in NEEDS if not doctor.ready(n)]
    if missing:
        print(f"vmvc: doctor --security needs {missing[0]}: {doctor.reason(missing[0])}", file=sys.stderr)
        return 1
    say = (lambda text: None) if as_json else (lambda text: print(f"  trying {text}...", file=sys.stderr,
                                                                   flush=True))
    result = figures.measure(say=say)
    if as_json:
        from runtime.cli.output import print_json

        print_json(result)
    else:
        from runtime.cli.output import table

        rows = [[r["class"], str(r["tried"]), figures.summary(r), figures.details(r)] for r in result["rows"]]
        table(f"vmvc doctor --security ({result['seconds']:.1f}s, on a throw-away state root)",
              ["class", "tried", "held", "details"], rows)
    return 0 if figures.all_held(result) else 1
