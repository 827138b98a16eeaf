"""Runs INSIDE the pure-cgroup-v2 Debian guest (not collected by pytest): vmvc's limit checks there.

Started by the guest's ``vmvc-v2check`` unit from the read-only source disk (see
:mod:`runtime.vm.debian.v2check`). Every check goes through vmvc's real CLI (``python3 -m
runtime.cli``, which starts the real spawner) and prints one line on the console::

    VMVC-V2 {"check": "oom", "ok": true, ...evidence...}

The host-side test (tests/cgroups_v2_guest/test_pure_v2.py) asserts every expected check is there and
ok. A check that raises is reported as failed with the error, and the next one still runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import traceback

CG = "/sys/fs/cgroup"
LINE = "VMVC-V2"
WANTED = ("memory", "cpu", "pids")
BOMB = ("(i=0; while [ $i -lt 200 ]; do sleep 30 & i=$((i+1)); done) 2>/dev/null; "
        "set -- /proc/[0-9]*; echo $#")
INSIDE = ("cat /proc/self/cgroup; echo ---; grep ' /sys/fs/cgroup' /proc/self/mountinfo; echo ---; "
          "cat /sys/fs/cgroup/cgroup.controllers; echo ---; "
          "if mkdir /sys/fs/cgroup/escape 2>/dev/null; then echo WRITABLE; else echo READONLY; fi; "
          "if echo 1 > /sys/fs/cgroup/cgroup.kill 2>/dev/null; then echo KILLABLE; else echo NOKILL; fi")


FAILED: list[str] = []


def say(check: str, ok: bool, **evidence) -> None:
    if not ok:
        FAILED.append(check)
    line = json.dumps({"check": check, "ok": bool(ok), **evidence}, sort_keys=True)
    os.write(1, f"{LINE} {line}\n".encode())


def vmvc(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "runtime.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def inspect(name: str) -> dict:
    r = vmvc("inspect", name)
    if r.returncode != 0:
        raise AssertionError(f"vmvc inspect {name}: {r.stderr.strip()[-300:]}")
    return json.loads(r.stdout)[0]


def check_pure_v2() -> None:
    types = sorted({line.split(" - ")[1].split()[0] for line in open("/proc/self/mountinfo")
                    if line.split(" - ")[1].split()[0] in ("cgroup", "cgroup2")})
    controllers = read(f"{CG}/cgroup.controllers").split()
    cmdline = read("/proc/cmdline")
    ok = types == ["cgroup2"] and all(c in controllers for c in WANTED) and "cgroup_no_v1=all" in cmdline
    say("pure-v2", ok, cgroup_fstypes=types, controllers=controllers, kernel=os.uname().release,
        cmdline=cmdline, mountinfo=[ln.strip() for ln in open("/proc/self/mountinfo") if "cgroup" in ln])


def check_doctor() -> None:
    r = vmvc("doctor", "--json")
    data = json.loads(r.stdout)
    cg = next(c for c in data["checks"] if c["name"] == "cgroups")
    backend = cg["data"].get("backend")
    say("doctor", cg["verdict"] == "ready" and backend == "v2", verdict=cg["verdict"],
        evidence=cg["evidence"], backend=backend)


def check_oom() -> None:
    r = vmvc("run", "--name", "oom", "--memory", "32m", "busybox", "sh", "-c",
             "head -c 200m /dev/zero | tail > /dev/null")
    state = inspect("oom")["State"]
    vmvc("rm", "oom")
    say("oom", r.returncode == 137 and state["OOMKilled"] is True and state["ExitCode"] == 137,
        exit_code=r.returncode, oom_killed=state["OOMKilled"], stderr=r.stderr[-300:])


def check_crun_anchor() -> None:
    """The reference runtime on the same kernel: crun runs the same OOM under the same 32 MiB limit (its
    own cgroup at /crun-anchor). vmvc's 137 above should be what crun gets too."""
    bundle = "/tmp/crun-anchor"
    os.makedirs(f"{bundle}/rootfs/bin", exist_ok=True)
    subprocess.run(["cp", "/bin/busybox", f"{bundle}/rootfs/bin/busybox"], check=True)
    for tool in ("sh", "head", "tail"):
        if not os.path.lexists(f"{bundle}/rootfs/bin/{tool}"):
            os.symlink("busybox", f"{bundle}/rootfs/bin/{tool}")
    subprocess.run(["crun", "spec"], cwd=bundle, check=True, capture_output=True)
    with open(f"{bundle}/config.json") as f:
        config = json.load(f)
    config["process"].update(terminal=False, args=["sh", "-c", "head -c 200m /dev/zero | tail > /dev/null"])
    config["linux"]["cgroupsPath"] = "/crun-anchor"
    config["linux"]["resources"] = {"memory": {"limit": 32 << 20, "swap": 32 << 20}, "pids": {"limit": 50}}
    with open(f"{bundle}/config.json", "w") as f:
        json.dump(config, f)
    version = subprocess.run(["crun", "--version"], capture_output=True, text=True).stdout.splitlines()[:1]
    r = subprocess.run(["crun", "run", "-b", bundle, "crun-anchor"], capture_output=True, text=True,
                       timeout=300)
    say("crun-anchor", r.returncode == 137, exit_code=r.returncode, crun=version, stderr=r.stderr[-300:])


def check_pids() -> None:
    r = vmvc("run", "--rm", "--pids-limit", "50", "busybox", "sh", "-c", BOMB)
    after = vmvc("run", "--rm", "busybox", "true")
    count = int(r.stdout.strip()) if r.stdout.strip().isdigit() else None
    say("pids-limit", r.returncode == 0 and count is not None and 40 <= count <= 50 and after.returncode == 0,
        processes=count, asked_for=200, limit=50, exit_code=r.returncode, stderr=r.stderr[-300:])


def check_leaf_and_limits() -> None:
    """A running container: its own leaf cgroup with the limits written; inside, the namespace is rooted
    there and /sys/fs/cgroup is read-only; removing it removes the cgroup."""
    r = vmvc("run", "-d", "--name", "leaf", "--memory", "64m", "--cpus", "0.5", "--pids-limit", "20",
             "busybox", "sleep", "600")
    if r.returncode != 0:
        raise AssertionError(f"vmvc run -d: {r.stderr.strip()[-300:]}")
    info = inspect("leaf")
    name, pid = info["Vmvc"]["Cgroup"], info["State"]["Pid"]
    d = os.path.join(CG, name)
    own = read(f"/proc/{pid}/cgroup")
    files = {f: read(os.path.join(d, f)) for f in ("memory.max", "cpu.max", "pids.max", "memory.swap.max")
             if os.path.exists(os.path.join(d, f))}
    children = [e for e in os.listdir(d) if os.path.isdir(os.path.join(d, e))]
    say("limits-written", files.get("memory.max") == str(64 << 20) and files.get("cpu.max") == "50000 100000"
        and files.get("pids.max") == "20", cgroup=name, files=files)
    say("own-leaf-cgroup", own == f"0::/{name}" and not children, proc_cgroup=own, children=children)
    # No --cpuset-cpus in vmvc: the container may use every CPU the root cpuset has (on v1 a new cpuset
    # starts empty and must inherit; on v2 the kernel does it) -- what the kernel lets the process run on.
    cpus_root = read(f"{CG}/cpuset.cpus.effective")
    allowed = next(ln.split()[1] for ln in read(f"/proc/{pid}/status").splitlines()
                   if ln.startswith("Cpus_allowed_list"))
    say("cpuset", allowed == cpus_root, root_cpus=cpus_root, container_cpus_allowed=allowed,
        subtree_control=read(f"{CG}/cgroup.subtree_control").split())
    inside = vmvc("exec", "leaf", "sh", "-c", INSIDE)
    parts = [p.strip() for p in inside.stdout.split("---")]
    mounts = [(ln.split()[5].split(","), ln.split(" - ")[1].split()[0]) for ln in parts[1].splitlines()
              if " - " in ln] if len(parts) == 4 else []
    ok = (inside.returncode == 0 and len(parts) == 4 and parts[0] == "0::/"
          and [fstype for _, fstype in mounts] == ["cgroup2"] and "ro" in mounts[0][0]
          and all(c in parts[2].split() for c in WANTED) and parts[3].split() == ["READONLY", "NOKILL"])
    say("cgroupns-readonly", ok, inside=parts, exit_code=inside.returncode, stderr=inside.stderr[-300:])
    rm = vmvc("rm", "-f", "leaf")
    deadline = time.monotonic() + 30
    while os.path.isdir(d) and time.monotonic() < deadline:    # the janitor removes it after the exit
        time.sleep(0.1)
    say("cgroup-removed", rm.returncode == 0 and not os.path.isdir(d), exit_code=rm.returncode)


def check_cpu_quota() -> None:
    r = vmvc("run", "-d", "--name", "spin", "--cpus", "0.5", "busybox", "sh", "-c", "while :; do :; done")
    if r.returncode != 0:
        raise AssertionError(f"vmvc run -d: {r.stderr.strip()[-300:]}")
    d = os.path.join(CG, inspect("spin")["Vmvc"]["Cgroup"])

    def stat(key: str) -> int:
        return int(next(ln.split()[1] for ln in read(f"{d}/cpu.stat").splitlines() if ln.startswith(key)))

    try:
        time.sleep(0.5)
        u0, t0 = stat("usage_usec"), time.monotonic()
        time.sleep(2)
        used, wall = (stat("usage_usec") - u0) / 1e6, time.monotonic() - t0
        throttled = stat("nr_throttled")
        cpu_max = read(f"{d}/cpu.max")
    finally:
        vmvc("rm", "-f", "spin")
    say("cpu-quota", used / wall <= 0.65 and throttled > 0, cpu_per_wall=round(used / wall, 3),
        nr_throttled=throttled, cpu_max=cpu_max)


def check_project_tests() -> None:
    """The project's own limit tests (and the cgroup backend's), run by pytest here as on the host, with
    CI=true: a skip is a failure. One line per test case, from pytest's JUnit XML."""
    import xml.etree.ElementTree as ET

    junit = "/tmp/vmvc-v2-junit.xml"
    r = subprocess.run([sys.executable, "-m", "pytest", "-o", "addopts=", "-p", "no:cacheprovider", "-q",
                        f"--junitxml={junit}", *PYTEST_TARGETS], capture_output=True, text=True,
                       env={**os.environ, "CI": "true"}, timeout=1200)
    cases = ET.parse(junit).getroot().iter("testcase")
    for case in cases:
        bad = next((e for e in case if e.tag in ("failure", "error", "skipped")), None)
        say(f"pytest {case.get('classname')}::{case.get('name')}", bad is None,
            outcome=bad.tag if bad is not None else "passed", seconds=float(case.get("time", 0)),
            message=(bad.get("message") or "")[:300] if bad is not None else "")
    say("pytest", r.returncode == 0, exit_code=r.returncode, summary=r.stdout.strip().splitlines()[-1:],
        tail=r.stdout[-600:] if r.returncode else "")


def check_nothing_left() -> None:
    vmvc("system", "stop")
    time.sleep(1)
    left = [e for e in os.listdir(CG) if e.startswith("vmvc")]
    mounts = [ln.split()[4] for ln in open("/proc/self/mountinfo")
              if "vmvc" in ln.split()[4] and not ln.split()[4].startswith("/mnt/vmvc")]
    say("nothing-left", not left and not mounts, cgroups_left=left, mounts_left=mounts)


PYTEST_TARGETS = ("tests/containers/test_limits.py", "tests/cgroups")
CHECKS = (check_pure_v2, check_doctor, check_oom, check_crun_anchor, check_pids, check_leaf_and_limits,
          check_cpu_quota, check_project_tests, check_nothing_left)


def main() -> int:
    say("guest", True, python=sys.version.split()[0], uptime=read("/proc/uptime").split()[0],
        own_cgroup=read("/proc/self/cgroup"))
    for fn in CHECKS:
        t = time.monotonic()
        try:
            fn()
        except Exception as e:  # report and go on: one broken check must not hide the others
            say(fn.__name__.removeprefix("check_").replace("_", "-"), False, error=f"{type(e).__name__}: {e}",
                trace=traceback.format_exc()[-600:])
        os.write(1, f"{LINE}-TIME {fn.__name__} {time.monotonic() - t:.1f}\n".encode())
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
