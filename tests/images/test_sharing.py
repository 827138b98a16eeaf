"""N containers of one image share its layer directories: disk use grows by their upper dirs only."""

import os

import pytest

from runtime.images.overlay import mount_overlay
from runtime.images.store import _disk_usage
from tests.images.helpers import in_mount_ns

N = 20


def _start_many(sys_, lowers, containers):
    """What N container starts do to the filesystem: one overlay each, and a write into each."""
    for c in containers:
        mount_overlay(sys_, lowers, f"{c}/upper", f"{c}/work", f"{c}/rootfs")
        with open(f"{c}/rootfs/tmp/hello", "w") as f:
            f.write("written by " + os.path.basename(c))
        assert os.path.exists(f"{c}/rootfs/bin/busybox")
    return [open(f"{c}/rootfs/tmp/hello").read() for c in containers]


@pytest.mark.overlay
@pytest.mark.busybox
def test_twenty_containers_share_the_layers(store, vmvc_root, no_leaks):
    img = store.resolve("busybox")
    layers_before = _disk_usage(store.layers)
    total_before = _disk_usage(str(vmvc_root))
    containers = []
    for i in range(N):
        c = vmvc_root / "containers" / f"vmvc-c{i}"
        for d in ("upper", "work", "rootfs"):
            (c / d).mkdir(parents=True)
        containers.append(str(c))
    seen = in_mount_ns(_start_many, img.layer_dirs, containers)
    assert seen == [f"written by vmvc-c{i}" for i in range(N)]
    layers_after = _disk_usage(store.layers)
    growth = _disk_usage(str(vmvc_root)) - total_before
    per_container = [_disk_usage(c) for c in containers]
    assert layers_after == layers_before              # nobody copied or changed a layer
    assert growth == _disk_usage(str(vmvc_root / "containers"))  # all growth is in the containers' dirs
    assert max(per_container) < 64 * 1024             # an upper holds only what that container wrote
    assert growth < img.size                          # 20 containers cost less than one more copy
    assert N * img.size > 20 * growth                 # vs. 20 full copies (what 20 VM disks would need)
