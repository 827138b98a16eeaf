"""Escape attempts from inside a container, tried and counted: the confinement's figures.

Runs :data:`runtime.security.attempts.ATTEMPTS` (namespaces, mounts, cgroup limits and ``cgroup.kill``,
host devices, ``/proc`` files, the clock, the keyring, ``bpf``, 32-bit and x32 calls...) in a container
with the default confinement, and again with ``--security-opt seccomp=unconfined`` to show which
defences hold without the filter. Every attempt exits 0 only if it worked.

Run it: ``python -m benchmarks.escapes --json escapes.json``.
"""

from __future__ import annotations

import argparse
import json
import sys


def measure() -> dict:
    from benchmarks.startup import private_root
    from runtime.containers import Engine
    from runtime.security import attempts

    with private_root("vmvc-bench-escapes-"):
        engine = Engine()
        try:
            default = attempts.run(engine)
            unconfined = attempts.run(engine, ["seccomp=unconfined"])
        finally:
            engine.shutdown()
    return {
        "tried": len(default),
        "blocked": sum(a["blocked"] for a in default),
        "blocked_unconfined": sum(a["blocked"] for a in unconfined),
        "attempts": [
            {**a, "blocked_unconfined": u["blocked"]} for a, u in zip(default, unconfined, strict=True)
        ],
    }


def report(result: dict) -> str:
    lines = [f"escape attempts from inside a container: {result['blocked']} of {result['tried']} blocked "
             f"({result['blocked_unconfined']} with seccomp=unconfined)"]
    for a in result["attempts"]:
        mark = "blocked" if a["blocked"] else "GOT THROUGH"
        alone = "" if a["blocked_unconfined"] else "  (the seccomp filter is what stops it)"
        lines.append(f"  {a['name']:<26} {mark:<11} exit {a['code']:<4}{alone}".rstrip())
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.escapes", description=__doc__.splitlines()[0])
    p.add_argument("--json", help="write the result to this file")
    a = p.parse_args(argv)
    result = measure()
    print(report(result))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0 if result["blocked"] == result["tried"] else 1


if __name__ == "__main__":
    sys.exit(main())
