"""Starting a rootless spawner: the client's half and the forked child's half of a user namespace.

The client forks (as for a root spawner); the child ``setsid``s, then calls :meth:`UserNamespace.enter`:
it unshares a user namespace and a PID namespace and waits. The client, still in the host's user
namespace (only a process there may run the setuid helpers for it), writes the child's id maps
(:func:`runtime.rootless.idmap.apply`) and lets it go on. The child, now root in its namespace,
forks the keeper, PID 1 of the new PID namespace, which forks the spawner; each gets full
capabilities *in that namespace* when it ``execve``s. Any failure is one line in the client, never a
spawner that does not answer: the child reports why its ``unshare`` failed on a pipe, and the client
kills nothing but its own child.
"""

from __future__ import annotations

import os
import select

from runtime.errors import VmvcError
from runtime.rootless import idmap

MAP_TIMEOUT = 10.0
NOT_POSSIBLE = (
    "containers need root or rootless mode, and rootless mode is not possible here: {why} (see 'vmvc "
    "doctor'). Without them you can use the model (vmvc sim), the recorded notebooks and results, and "
    "VM boots under TCG (vmvc vm boot --accel tcg)"
)


def not_possible(why: str) -> VmvcError:
    return VmvcError(NOT_POSSIBLE.format(why=why), exit_code=125)


class UserNamespace:
    """Made by the client before it forks; ``enter`` runs in the child, ``map`` in the client."""

    def __init__(self, state_root: str | None, flags: int | None = None) -> None:
        from runtime.linux.syscalls import CLONE_NEWPID, CLONE_NEWUSER

        self.state_root = state_root
        self.flags = CLONE_NEWUSER | CLONE_NEWPID if flags is None else flags
        self.plan = idmap.plan()
        self.up_r, self.up_w = os.pipe()  # child -> client: "u" once unshared, else why not
        self.go_r, self.go_w = os.pipe()  # client -> child: "m" once mapped (EOF: give up)

    def enter(self) -> None:
        """In the forked child: new user and PID namespaces, mapped by the client. Returns as root
        of the namespace (its next fork is PID 1 there); exits the child if that cannot be."""
        from runtime.linux.syscalls import syscalls

        os.close(self.up_r)
        os.close(self.go_w)
        try:
            syscalls().unshare(self.flags)
        except OSError as e:
            os.write(self.up_w, f"creating a user namespace failed ({e.strerror})".encode())
            os._exit(1)
        os.write(self.up_w, b"u")
        mapped = os.read(self.go_r, 1) == b"m"
        os.close(self.up_w)
        os.close(self.go_r)
        if not mapped:
            os._exit(1)
        if self.state_root:
            os.environ["VMVC_ROOT"] = self.state_root  # root in here must not mean /var/lib/vmvc

    def map(self, pid: int, log_path: str | None = None) -> list[str]:
        """In the client: write the child's maps and release it. Raises one clear VmvcError (having
        reaped the child) when the kernel or the helpers refuse."""
        os.close(self.up_w)
        os.close(self.go_r)
        try:
            ready = select.select([self.up_r], [], [], MAP_TIMEOUT)[0]
            said = os.read(self.up_r, 512).decode(errors="replace") if ready else "no answer"
            if said != "u":
                raise not_possible(said or "the child died")
            try:
                notes = idmap.apply(pid, self.plan)
            except OSError as e:
                raise not_possible(f"writing the id maps failed: {e.strerror}") from None
            os.write(self.go_w, b"m")
        except BaseException:
            os.close(self.go_w)  # the child sees EOF and exits
            self.go_w = -1
            os.waitpid(pid, 0)
            raise
        finally:
            os.close(self.up_r)
            if self.go_w >= 0:
                os.close(self.go_w)
        if notes and log_path:
            with open(log_path, "a") as f:
                f.writelines(f"vmvc rootless: {n}\n" for n in notes)
        return notes


def run_mapped(fn, *args) -> int:
    """``fn(*args)`` in a forked child that is root of a new user namespace with this user's id
    maps; returns its exit code (0 if ``fn`` returned). What a rootless container leaves on disk
    (its upper dir: files of subordinate ids, overlayfs' mode-0 work dir) only such a process may
    delete, whether or not the spawner still runs."""
    from runtime.linux.syscalls import CLONE_NEWUSER

    ns = UserNamespace(None, CLONE_NEWUSER)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            ns.enter()
            fn(*args)
            code = 0
        except BaseException as e:
            os.write(2, f"vmvc: {e}\n".encode(errors="replace"))
        finally:
            os._exit(code)
    ns.map(pid)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def check_state_root(root: str) -> None:
    """One clear line if this user cannot keep state at ``root`` (``$VMVC_ROOT`` pointing at another
    user's directory, a home that does not exist); run by the CLI before anything is made."""
    probe = os.path.abspath(root)
    while not os.path.exists(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)
    if not os.access(probe, os.W_OK | os.X_OK):
        raise not_possible(f"this user cannot write the state root {root} (set VMVC_ROOT to a directory "
                           "of its own)")
