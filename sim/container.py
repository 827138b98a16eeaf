"""What a container start is made of: the stage vocabulary for ``"container"`` instances, in order.

A container shares the host's running kernel, so it skips everything a VM spends its time on:
the image is looked up (pulled first if absent, layers shared between images and containers),
an overlay rootfs is mounted, the runtime creates namespaces, moves the process into a cgroup
(paying the host's RCU grace period after idle, see :mod:`sim.host`) and execs the workload. Image
data sit in the host's shared page/layer cache (``"cache": "shared"``): the second container of an
image pays only a small fraction.

    >>> import sim
    >>> r = sim.run("storm", profile="crun", n=2, interval=0.1, jitter=False)
    >>> r.ready_times.round(4).tolist()   # idle host: the first pays the RCU grace period; crun 11-14 ms
    [0.024, 0.0124]
"""

STAGES = {
    "image_pull": "the image is pulled when absent (shared layers are fetched once)",
    "image_lookup": "the engine resolves the image and its layers",
    "rootfs": "the overlay rootfs is mounted",
    "runtime_start": "the runtime (and for Docker: CLI -> dockerd -> containerd -> shim) starts",
    "namespaces": "namespaces are created (clone/unshare, mounts, pivot_root)",
    "cgroup_setup": "the cgroup is created, limited, and the process moved in (RCU grace period)",
    "exec": "the container's process execs",
    "workload": "the workload starts and reports ready",
}

COLOURS = {
    "image_pull": "#f28e2b",
    "image_lookup": "#ffbe7d",
    "rootfs": "#8cd17d",
    "runtime_start": "#4e79a7",
    "namespaces": "#a0cbe8",
    "cgroup_setup": "#e15759",
    "exec": "#59a14f",
    "workload": "#79706e",
}
