"""Everything that touches the kernel directly: ctypes syscalls and their test fake."""

from runtime.linux.syscalls import NAMESPACES, Syscalls, syscalls

__all__ = ["NAMESPACES", "Syscalls", "syscalls"]
