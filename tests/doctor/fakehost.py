"""Build fake /proc, /sys, /etc and /dev trees in a temp dir for the doctor's file-based probes."""

from __future__ import annotations

from pathlib import Path

V1 = ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids"]
PROC_CGROUPS = "#subsys_name\thierarchy\tnum_cgroups\tenabled\n" + "".join(
    f"{c}\t{i + 1}\t1\t1\n" for i, c in enumerate(V1))


def write(root: Path, rel: str, text: str) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)


def make(root: Path, cgroups: str = "hybrid", kvm: str | None = "kvm_pvm", cpu_flags: str = "fpu hypervisor",
         os_release: str = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n') -> Path:
    write(root, "etc/os-release", os_release)
    write(root, "proc/sys/kernel/osrelease", "6.1.0-test\n")
    write(root, "proc/filesystems", "nodev\tproc\nnodev\toverlay\n")
    write(root, "proc/sys/user/max_user_namespaces", "1000\n")
    write(root, "proc/cgroups", PROC_CGROUPS)
    write(root, "proc/cpuinfo", f"processor\t: 0\nflags\t\t: {cpu_flags}\n")
    mounts = ["/dev/vda / ext4 rw 0 0"]
    if cgroups in ("v1", "hybrid"):
        for c in V1:
            mounts.append(f"cgroup /sys/fs/cgroup/{c} cgroup rw,relatime,{c} 0 0")
    if cgroups == "hybrid":
        mounts.append("cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0")
        write(root, "sys/fs/cgroup/unified/cgroup.controllers", "\n")
    if cgroups == "v2":
        mounts.append("cgroup2 /sys/fs/cgroup cgroup2 rw,nsdelegate 0 0")
        write(root, "sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n")
    write(root, "proc/mounts", "\n".join(mounts) + "\n")
    if kvm:
        write(root, "dev/kvm", "")
        (root / "sys/module" / kvm).mkdir(parents=True, exist_ok=True)
        (root / "sys/module/kvm").mkdir(parents=True, exist_ok=True)
    return root
