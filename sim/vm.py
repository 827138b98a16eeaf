"""What a VM boot is made of: the stage vocabulary for ``"vm"`` instances, in boot order.

A VM boot pays for a second operating system: the hypervisor process starts, reserves guest RAM,
runs firmware and a bootloader, decompresses and initialises a kernel, runs an init system and its
services, and only then the workload. Each stage has CPU work, I/O and memory (see
:mod:`sim.stages`), and a VM's disk is private (``"cache": "private"``), so unlike containers a
second VM of the same image pays the full read again.

Profiles may leave stages out (a microVM has no firmware or bootloader) but keep this order.

    >>> import sim
    >>> r = sim.run("start", profile="microvm", jitter=False)
    >>> [row["stage"] for row in r.records]
    ['vmm_start', 'ram_reserve', 'kernel_load', 'kernel_init', 'init_system', 'workload']
"""

STAGES = {
    "vmm_start": "the VMM process starts (QEMU/Firecracker: exec, libraries, device model)",
    "ram_reserve": "guest RAM is reserved and mapped",
    "firmware": "firmware (SeaBIOS/OVMF; none for PVH/microvm)",
    "bootloader": "bootloader (GRUB; none for direct kernel boot)",
    "kernel_load": "the kernel image is read (host page cache: shared between VMs)",
    "kernel_decompress": "the compressed kernel unpacks itself",
    "kernel_init": "the guest kernel initialises (initcalls, device probing)",
    "init_system": "init / systemd reaches its first targets",
    "services": "services start (network, cloud-init, sshd)",
    "workload": "the workload starts and reports ready",
}

COLOURS = {
    "vmm_start": "#4e79a7",
    "ram_reserve": "#a0cbe8",
    "firmware": "#f28e2b",
    "bootloader": "#ffbe7d",
    "kernel_load": "#8cd17d",
    "kernel_decompress": "#59a14f",
    "kernel_init": "#b6992d",
    "init_system": "#e15759",
    "services": "#ff9d9a",
    "workload": "#79706e",
}
