"""Small profiles built in code for analytic tests (one CPU stage, one disk stage, ...)."""

from __future__ import annotations

from sim.profiles import parse


def one_stage(
    cores: int = 2,
    cpu_model: str = "ps",
    memory_mib: float = 1024,
    admission: str = "wait",
    cpu_ms: float = 100.0,
    io_mib: float = 0.0,
    delay_ms: float = 0.0,
    mem_mib: float = 1.0,
    disk_mib_s: float = 100.0,
    kind: str = "container",
):
    """A profile whose instances have exactly one stage and no jitter."""
    return parse(
        {
            "name": "analytic",
            "host": {
                "cores": cores,
                "cpu_model": cpu_model,
                "memory_mib": memory_mib,
                "admission": admission,
                "disk_mib_s": disk_mib_s,
            },
            "instances": {
                kind: {
                    "stages": [
                        {
                            "name": "work",
                            "cpu_ms": cpu_ms,
                            "io_mib": io_mib,
                            "delay_ms": delay_ms,
                            "mem_mib": mem_mib,
                        }
                    ]
                }
            },
        }
    )
