"""Confinement on the real kernel, tried from inside containers as an attacker would (issue 10).

Seccomp (Docker's default profile, ``seccomp=unconfined``, a custom profile, a malformed one), the
cgroup hierarchies (every one holds the container; ``/sys/fs/cgroup`` is read-only and shows only the
container's own cgroups) and ``vmvc exec`` (the container's filter and environment only; non-dumpable
until ``execve``).
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import time

import pytest

from runtime.security.x86_64 import NUMBERS
from tests.containers.conftest import REAL, engine, run  # noqa: F401  (fixtures)

pytestmark = REAL

KEY_SPEC_SESSION_KEYRING = -3
PROBES = {  # name -> (nr, args, via int 0x80)
    "getpid": (NUMBERS["getpid"], (), False),
    "add_key": (NUMBERS["add_key"], (), False),  # NULL pointers: EFAULT if the kernel gets to look
    "keyctl": (NUMBERS["keyctl"], (0, KEY_SPEC_SESSION_KEYRING, 0), False),  # KEYCTL_GET_KEYRING_ID
    "request_key": (NUMBERS["request_key"], (), False),
    "unshare_user": (NUMBERS["unshare"], (0x10000000,), False),
    "i386_getpid": (20, (), True),  # a 32-bit call through int 0x80
}
SIGSYS_EXIT = 128 + 31


@pytest.fixture
def probes(engine):  # noqa: F811
    """An image with busybox and /probe/<name>: one system call each, exit code = its errno."""
    from runtime.images import open_store
    from runtime.security.probes import image

    return image(open_store(), "vmvc-probes:latest", PROBES)


def _codes(r) -> dict[str, int]:
    """``name=code`` lines of the probe script below."""
    return {k: int(v) for k, v in (w.split("=") for w in r.stdout.decode().split() if "=" in w)}


PROBE_ALL = "for p in /probe/*; do $p; echo ${p#/probe/}=$?; done"


def test_seccomp_refuses_namespaces_keyring_and_32_bit_calls(run, probes):  # noqa: F811
    r = run("sh", "-c", PROBE_ALL, image=probes)
    codes = _codes(r)
    assert codes["getpid"] == 0
    for name in ("add_key", "keyctl", "request_key", "unshare_user"):
        assert codes[name] == 1, (name, codes)  # EPERM from the filter (unfiltered: EFAULT, 0, EFAULT)
    assert codes["i386_getpid"] == SIGSYS_EXIT  # a foreign-arch call kills the process


def test_unshare_and_cgroup_mounts_fail_inside(run):  # noqa: F811
    r = run("sh", "-c", "grep Seccomp: /proc/self/status; unshare -U true; echo unshare=$?;"
            " mkdir -p /m; mount -t cgroup -o pids none /m; echo v1=$?; mount -t cgroup2 none /m; echo v2=$?")
    out = r.stdout.decode()
    assert "Seccomp:\t2" in out
    assert "unshare=1" in out
    assert "v1=0" not in out and "v2=0" not in out
    assert b"Operation not permitted" in r.stderr


def test_unconfined_restores_unshare_and_the_keyring(run, probes):  # noqa: F811
    r = run("sh", "-c", "grep Seccomp: /proc/self/status; " + PROBE_ALL, image=probes,
            security_opt=["seccomp=unconfined"])
    codes = _codes(r)
    assert b"Seccomp:\t0" in r.stdout
    assert codes["unshare_user"] == 0 and codes["keyctl"] == 0 and codes["add_key"] == 14  # EFAULT
    assert codes["i386_getpid"] == 0


def test_a_custom_profile_that_blocks_mkdir_makes_mkdir_fail_with_eperm(run, tmp_path):  # noqa: F811
    from runtime.security.profile import DEFAULT_PATH

    profile = json.load(open(DEFAULT_PATH))
    profile["syscalls"][0]["names"].remove("mkdir")
    profile["syscalls"][0]["names"].remove("mkdirat")
    path = tmp_path / "no-mkdir.json"
    path.write_text(json.dumps(profile))
    r = run("sh", "-c", "mkdir /made; echo rc=$?; ls -d /made", security_opt=[f"seccomp={path}"])
    assert b"rc=1" in r.stdout
    assert b"Operation not permitted" in r.stderr
    assert run("mkdir", "/made").exit_code == 0  # the default profile allows it


def _vmvc(*args, **kw):
    return subprocess.run([sys.executable, "-m", "runtime.cli.main", *args], capture_output=True, text=True,
                          timeout=60, **kw)


@pytest.mark.parametrize(
    "opt, message",
    [("seccomp={bad}", "decoding seccomp profile failed"),
     ("seccomp={tmp}/missing.json", "opening seccomp profile"),
     ("seccomp={wrongarch}", "architectures do not include"),
     ("nonsense=1", 'invalid --security-opt: "nonsense=1"'),
     ("seccomp={kill_all}", "seccomp profile blocks execve, prctl")],
)
def test_a_bad_profile_or_option_is_one_line_125_and_leaves_nothing(engine, tmp_path, opt, message):  # noqa: F811
    bad = tmp_path / "bad.json"
    bad.write_text('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [')
    wrongarch = tmp_path / "arm.json"
    wrongarch.write_text('{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_AARCH64"]}')
    kill_all = tmp_path / "kill.json"
    kill_all.write_text('{"defaultAction": "SCMP_ACT_KILL_PROCESS"}')
    opt = opt.format(bad=bad, tmp=tmp_path, wrongarch=wrongarch, kill_all=kill_all)
    r = _vmvc("run", "--rm", "--name", "never", "--security-opt", opt, "busybox", "true")
    assert r.returncode == 125
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert engine.list(all=True) == []  # and no_leaks: no cgroup, mount, process or temp dir


def _host_cgroups(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cgroup") as f:
        return f.read().splitlines()


@pytest.mark.parametrize("privileged", [False, True], ids=["default", "privileged"])
def test_every_hierarchy_holds_the_container_and_none_is_left_after(engine, privileged):  # noqa: F811
    """A ``--privileged`` container too gets its own leaf in every hierarchy (not its stem's parent's,
    not a shared one): its limits apply and its own ``cgroup.kill`` reaches only itself."""
    from runtime.cgroups import manager
    from runtime.containers import Spec

    cid = engine.create(Spec("busybox", ["sleep", "60"], privileged=privileged, pids_limit=33))
    engine.start(cid)
    pid = engine.inspect(cid)["State"]["Pid"]
    name = engine.inspect(cid)["Vmvc"]["Cgroup"]
    lines = _host_cgroups(pid)
    with open("/proc/self/mountinfo") as f:
        hierarchies = sum(1 for line in f if " - cgroup" in line)
    assert len(lines) == hierarchies  # one line per mounted hierarchy (v1 + the v2 mount)
    assert all(line.endswith("/" + name) for line in lines), lines  # named ones and 0:: included
    dirs = manager().dirs(name)
    assert len(dirs) == hierarchies and all(os.path.isdir(d) for d in dirs)
    limits = [d for d in dirs if os.path.exists(os.path.join(d, "pids.max"))]
    assert limits and all(open(os.path.join(d, "pids.max")).read().strip() == "33" for d in limits)
    engine.kill(cid)
    engine.wait(cid)
    engine.remove(cid)
    deadline = time.monotonic() + 10
    while any(os.path.isdir(d) for d in dirs) and time.monotonic() < deadline:
        time.sleep(0.02)  # the janitor removes cgroups off the spawner's loop
    assert not any(os.path.isdir(d) for d in dirs)


def test_sys_fs_cgroup_is_read_only_and_shows_only_the_container(run):  # noqa: F811
    script = (
        "cat /sys/fs/cgroup/pids/pids.max; echo 1000 > /sys/fs/cgroup/pids/pids.max; echo raise=$?;"
        " echo max > /sys/fs/cgroup/memory/memory.limit_in_bytes; echo mem=$?;"
        " echo 1 > /sys/fs/cgroup/unified/cgroup.kill; echo kill=$?;"
        " echo FROZEN > /sys/fs/cgroup/freezer/freezer.state; echo freeze=$?;"
        " find /sys/fs/cgroup -mindepth 2 -type d | wc -l; grep -c -v ':/$' /proc/self/cgroup;"
        " grep ' /sys/fs/cgroup' /proc/self/mounts | grep -vc ' ro,'"
    )
    r = run("sh", "-c", script, pids_limit=50, memory=64 << 20)
    out = r.stdout.decode().split()
    assert out[0] == "50"
    assert out[1:5] == ["raise=1", "mem=1", "kill=1", "freeze=1"]
    assert out[5] == "0"  # no cgroup below any hierarchy's root: not the host's, not a sibling's
    assert out[6] == "0"  # every hierarchy rooted at the container's own cgroup
    assert out[7] == "0"  # every mount under /sys/fs/cgroup read-only
    assert b"Read-only file system" in r.stderr


def test_privileged_is_dangerous_but_still_sees_only_its_own_cgroups(run):  # noqa: F811
    script = (
        "grep -E 'CapEff|Seccomp:' /proc/self/status; mkdir -p /f /u;"
        " mount -t cgroup -o freezer none /f && find /f -mindepth 1 -type d | wc -l;"
        " mount -t cgroup2 none /u && find /u -mindepth 1 -type d | wc -l"
    )
    r = run("sh", "-c", script, privileged=True)
    lines = r.stdout.decode().splitlines()
    assert r.exit_code == 0, r.stderr
    assert int(lines[0].split()[1], 16) & (1 << 21)  # CAP_SYS_ADMIN
    assert lines[1].split() == ["Seccomp:", "0"]
    assert lines[2:] == ["0", "0"]  # the host's freezer and v2 trees stay out of sight


def test_exec_gets_the_containers_filter_and_environment_only(engine, monkeypatch):  # noqa: F811
    from runtime.containers import Spec

    monkeypatch.setenv("VMVC_HOST_SECRET", "host-secret-42")  # in the spawner's environment
    cid = engine.create(Spec("busybox", ["sleep", "60"], env=["APP=1"]))
    engine.start(cid)
    r = engine.exec_run(cid, ["cat", "/proc/self/environ"], env=["EXTRA=2"])
    mine = sorted(r.stdout.decode().split("\0")[:-1])
    container = sorted(engine.exec_run(cid, ["cat", "/proc/1/environ"]).stdout.decode().split("\0")[:-1])
    assert "APP=1" in container
    assert mine == sorted([*container, "EXTRA=2"])  # the container's environment, nothing of the host's
    assert b"host-secret-42" not in r.stdout
    r = engine.exec_run(cid, ["sh", "-c", "grep Seccomp: /proc/self/status; unshare -U true; echo rc=$?"])
    assert b"Seccomp:\t2" in r.stdout and b"rc=1" in r.stdout
    engine.kill(cid)
    engine.wait(cid)


def test_exec_into_an_unconfined_container_is_unconfined(engine):  # noqa: F811
    from runtime.containers import Spec

    cid = engine.create(Spec("busybox", ["sleep", "60"], security_opt=["seccomp=unconfined"]))
    engine.start(cid)
    r = engine.exec_run(cid, ["grep", "Seccomp:", "/proc/self/status"])
    assert r.stdout.split() == [b"Seccomp:", b"0"]
    engine.kill(cid)
    engine.wait(cid)


def test_a_spawner_copy_is_unreadable_until_exec():
    """The mechanism behind ``exec``'s hardening, on the real kernel: a child after
    :func:`child_prologue` and with a container's capabilities (an exec child right before
    ``execve``, still a copy of this process) cannot be read through ``/proc`` by a container's root;
    the same child without the prologue can."""
    from runtime.containers import init
    from runtime.linux import capabilities
    from runtime.linux.syscalls import syscalls

    sys_ = syscalls()
    keep = capabilities.mask(capabilities.DOCKER_DEFAULT)

    def child(hardened: bool) -> int:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            if hardened:
                init.child_prologue(sys_, [w])
            sys_.capset(keep, keep, 0)  # an exec child after it took the container's capabilities
            os.write(w, b"x")
            time.sleep(30)
            os._exit(0)
        os.close(w)
        os.read(r, 1)
        os.close(r)
        return pid

    hardened, plain = child(True), child(False)
    try:
        r, w = os.pipe()
        prober = os.fork()
        if prober == 0:  # a container's root: Docker's default capabilities, no CAP_SYS_PTRACE
            sys_.capset(keep, keep, 0)
            results = []
            for pid in (hardened, plain):
                for what in ("environ", "mem"):
                    try:
                        os.close(os.open(f"/proc/{pid}/{what}", os.O_RDONLY))
                        results.append("open")
                    except PermissionError:
                        results.append("denied")
                try:
                    os.readlink(f"/proc/{pid}/exe")
                    results.append("open")
                except PermissionError:
                    results.append("denied")
            os.write(w, " ".join(results).encode())
            os._exit(0)
        os.close(w)
        results = os.read(r, 200).decode().split()
        os.waitpid(prober, 0)
        assert results == ["denied"] * 3 + ["open"] * 3
    finally:
        for pid in (hardened, plain):
            os.kill(pid, 9)
            os.waitpid(pid, 0)
    assert ctypes.CDLL(None).prctl(3, 0, 0, 0, 0) == 1  # PR_GET_DUMPABLE: this process untouched


def test_inspect_shows_privileged_and_security_opt(engine):  # noqa: F811
    from runtime.containers import Spec

    cid = engine.create(Spec("busybox", ["true"], privileged=True, security_opt=["seccomp=unconfined"]))
    host = engine.inspect(cid)["HostConfig"]
    assert host["Privileged"] is True and host["SecurityOpt"] == ["seccomp=unconfined"]
    plain = engine.inspect(engine.create(Spec("busybox", ["true"])))["HostConfig"]
    assert plain["Privileged"] is False and plain["SecurityOpt"] is None


WATCHER = """
seen=" 1 $$ "
end=$(( $(date +%s) + 3 ))
while [ $(date +%s) -lt $end ]; do
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    case "$seen" in *" $p "*) continue;; esac
    seen="$seen$p "
    { echo "pid $p"; tr '\\0' ' ' < $d/environ; echo; readlink $d/exe; } 2>&1
  done
done
"""


def test_a_watcher_inside_never_reads_the_spawner_through_an_exec_child(engine, monkeypatch):  # noqa: F811
    """An attacker in the container polls /proc for new processes (the exec children) and reads their
    environment and executable: before ``execve`` that is denied, after it only the container's
    environment and program show; the host's environment never does."""
    from runtime.containers import Spec

    monkeypatch.setenv("VMVC_HOST_SECRET", "host-secret-43")
    cid = engine.create(Spec("busybox", ["sh", "-c", WATCHER]))
    engine.start(cid)
    for _ in range(8):  # on this host the watcher catches most of them before execve: "Permission denied"
        assert engine.exec_run(cid, ["true"]).exit_code == 0
    engine.wait(cid)
    log = b"".join(entry["log"].encode() for entry in engine.logs(cid))  # what the watcher saw
    assert log.count(b"pid ") >= 2
    assert b"host-secret-43" not in log and b"VMVC_ROOT" not in log
    assert b"/usr/bin/python" not in log and b"python3" not in log  # never the spawner's executable
