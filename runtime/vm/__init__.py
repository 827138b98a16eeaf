"""Real virtual machines, measured: a guest kernel, our own initramfs, QEMU, and a phase timeline.

The VM path, one module per step::

    kernel.py      fetch/cache/verify the guest kernel (sha256 on every use)
    vmlinux.py     the ELF inside the bzImage, for PVH direct boot (no setup code, no decompression)
    initramfs.py   busybox + a timed /init, written as newc cpio + gzip in pure Python
    accel.py       KVM or TCG, decided from evidence in milliseconds, with the reason
    qemu.py        the launcher: command line, console capture, hang/KVM-error watch, no leftovers
    timeline.py    console evidence → consecutive phases; QEMU's peak RSS/PSS
    boot.py        all of the above as one call: ``boot(workload, machine, accel, services)``
    plot.py        the timeline as a picture
    pyvmm/         a hypervisor in Python over the KVM ioctls: what a VMM does on every VM exit

>>> from runtime.vm.boot import boot                       # doctest: +SKIP
>>> boot("echo hi", machine="microvm").timeline.wall      # doctest: +SKIP
1.93
"""
