"""A full Debian guest with systemd, built from nothing, and the same userland as a container image.

One concept per module::

    recipe.py      release, packages, vmvc's report unit; the content key of all that
    build.py       mmdebstrap → kernel + initrd → tarball → ext4 (mke2fs -d) → qcow2 base
    image.py       the cache: one verified directory per key, entries appear atomically
    disks.py       each VM's disk: a thin qcow2 overlay or a full copy; per-VM disk cost
    phases.py      console evidence of initramfs-tools and systemd → guest phases, blame
    boot.py        boot the guest through its own kernel and initrd, to multi-user.target
    container.py   the same rootfs imported into vmvc's image store
    nothing.py     "create from nothing": the whole path timed for a VM and for a container
    chart.py       both sides on one log-scale chart
    v2check.py     the image derived to run vmvc inside: its limits on a pure cgroup-v2 kernel
"""
