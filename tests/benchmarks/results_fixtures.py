"""Fixed, hand-made results for the verdict tests: what a run on a given kind of host would record."""

from __future__ import annotations

from benchmarks.suite import Results, Sample


def startup(engine_ms: float, vm_ms: float, accel: str = "tcg", docker_ms: float = 400.0,
            vm_kernel: str = "6.1.0-guest", container_kernel: str = "6.18-host") -> Results:
    samples = []
    for r, jitter in enumerate((0.9, 1.0, 1.1)):
        samples.append(Sample("startup", "engine", "start", engine_ms * jitter, round=r))
        samples.append(Sample("startup", "docker", "start", docker_ms * jitter, round=r))
        samples.append(Sample("startup", "qemu-microvm", "to_workload", vm_ms * jitter, round=r,
                              labels={"accel": accel, "services": 0}))
    res = Results(samples, {"startup": {"accelerator": accel, "host_kernel": "6.18-host", "host_cpu": "EPYC",
                                        "container_kernel": container_kernel, "container_cpu": "EPYC",
                                        "vm_kernel_seen": vm_kernel, "vm_cpu": "QEMU Virtual CPU"}})
    res.suites["startup"] = {"title": "Start-up", "status": "ok", "claims": ["C3", "C4", "C9", "C13"]}
    return res
