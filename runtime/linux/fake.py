"""A fake of :class:`runtime.linux.syscalls.Syscalls` that records calls instead of making them.

For unit tests of logic that decides *which* calls to make (mount plans, namespace sets, capability
drops). Set ``fail`` to make a named call raise, to test error and cleanup paths.
"""

from __future__ import annotations

import errno


class FakeSyscalls:
    def __init__(self, fail: dict[str, int] | None = None) -> None:
        self.calls: list[tuple] = []
        self.fail = dict(fail or {})

    def _record(self, name: str, *args) -> int:
        self.calls.append((name, *args))
        if name in self.fail:
            code = self.fail[name]
            raise OSError(code, f"{name}: {errno.errorcode.get(code, code)} (fake)")
        return 0

    def unshare(self, flags):
        self._record("unshare", flags)

    def setns(self, fd, nstype=0):
        self._record("setns", fd, nstype)

    def mount(self, source, target, fstype, flags=0, data=None):
        self._record("mount", source, target, fstype, flags, data)

    def umount(self, target, flags=0):
        self._record("umount", target, flags)

    def pivot_root(self, new_root, put_old):
        self._record("pivot_root", new_root, put_old)

    def sethostname(self, name):
        self._record("sethostname", name)

    def prctl(self, option, arg2=0, arg3=0, arg4=0, arg5=0):
        return self._record("prctl", option, arg2, arg3, arg4, arg5)

    def capset(self, effective, permitted, inheritable):
        self._record("capset", effective, permitted, inheritable)

    def seccomp(self, prog):
        self._record("seccomp", len(prog))

    def link_up(self, name="lo"):
        self._record("link_up", name)

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]
