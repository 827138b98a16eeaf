"""Client–server (claim C13): one ``docker run`` is a short conversation of REST calls over a socket.

The real docker CLI and the docker SDK drive two servers side by side, in interleaved rounds:
``vmvc daemon`` (over vmvc's engine) and Debian's dockerd (started privately, no bridge, no iptables;
the same busybox image loaded from vmvc's store). Both run ``docker run --rm --network none busybox
true``. The vmvc daemon runs with ``--trace``, so the report can show the calls one run makes, in order,
with their server-side times: the tutorial's client–server picture, measured.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

from benchmarks.suite import ClaimRow, NotMeasured, Results, SuiteContext

NAME = "daemon"
TITLE = "Client–server: the docker CLI and SDK against vmvc's daemon and dockerd"
NEEDS = ["root", "docker", "dockerd", "busybox", "overlayfs", "cgroups"]
CLAIMS = ["C13"]
TARGET = 0.33  # vmvc daemon / dockerd, docker run --rm (issue 14)
BUDGET = {"quick": 60, "full": 150}  # seconds; past it no new round starts (at least 5; n says how many)


class VmvcDaemon:
    """``vmvc daemon --trace`` on a socket in ``workdir``, over a private state root; stopped (and its
    engine's spawner with it) on exit."""

    def __init__(self, workdir: str):
        self.dir = workdir
        self.sock = os.path.join(workdir, "vmvc.sock")
        self.log = os.path.join(workdir, "daemon.log")
        vmvc = os.path.join(os.path.dirname(sys.executable), "vmvc")
        self.vmvc = vmvc if os.path.exists(vmvc) else shutil.which("vmvc") or "vmvc"
        self.env = {**os.environ, "VMVC_ROOT": os.path.join(workdir, "state"),
                    "DOCKER_HOST": f"unix://{self.sock}"}
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([self.vmvc, "daemon", "-H", f"unix://{self.sock}", "--trace"],
                                         env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not os.path.exists(self.sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise NotMeasured("vmvc daemon did not start")
            time.sleep(0.02)

    def trace_lines(self) -> list[str]:
        with open(self.log, errors="replace") as f:
            return [ln for ln in f if ln.startswith("trace ")]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        subprocess.run([self.vmvc, "system", "stop"], env=self.env, capture_output=True, timeout=60)


def _timed(argv: list[str], env: dict) -> float:
    t = time.perf_counter()
    r = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True)
    ms = (time.perf_counter() - t) * 1000
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {r.stderr.decode(errors='replace').strip()[:200]}")
    return ms


def _sdk_run(base_url: str) -> float:
    import docker

    client = docker.DockerClient(base_url=base_url, timeout=60)
    try:
        t = time.perf_counter()
        client.containers.run("busybox", ["true"], remove=True, network_mode="none")
        return (time.perf_counter() - t) * 1000
    finally:
        client.close()


def conversation(lines: list[str]) -> list[list]:
    """The calls of the last ``docker run`` in a trace: [[method, path, ms], …] from its create on."""
    calls = []
    for ln in lines:
        parts = ln.split()
        if len(parts) >= 7:
            calls.append([parts[1], parts[2], parts[3].split("?")[0], float(parts[-2])])
    calls.sort(key=lambda c: c[0])  # arrival order (lines are written when each call ends)
    calls = [c[1:] for c in calls]
    starts = [i for i, c in enumerate(calls) if c[0] == "POST" and c[1].endswith("/containers/create")]
    if not starts:
        return []
    first = starts[-1]
    while first > 0 and calls[first - 1][1].endswith("/_ping"):
        first -= 1
    tail = calls[first:]
    short = []
    for method, path, ms in tail:
        segs = path.split("/")
        short.append([method, "/".join(s[:12] if len(s) == 64 else s for s in segs), round(ms, 2)])
    return short


def run(ctx: SuiteContext) -> None:
    from benchmarks.dockerd import DockerdError, PrivateDockerd

    docker_cli = shutil.which("docker")
    rounds = 5 if ctx.quick else 21
    workdir = str(ctx.workdir)
    os.makedirs(os.path.join(workdir, "vmvcd"), exist_ok=True)
    vd = VmvcDaemon(os.path.join(workdir, "vmvcd"))
    try:
        try:
            dockerd = PrivateDockerd()
        except DockerdError as e:
            raise NotMeasured(f"Debian's dockerd did not start here: {e}") from None
        with dockerd:
            dockerd.load_from_vmvc("busybox")
            argv = [docker_cli, "run", "--rm", "--network", "none", "busybox", "true"]
            methods = {
                "docker CLI → vmvc daemon": lambda: _timed(argv, vd.env),
                "docker CLI → dockerd": lambda: _timed(argv, dockerd.env),
                "SDK → vmvc daemon": lambda: _sdk_run(f"unix://{vd.sock}"),
                "SDK → dockerd": lambda: _sdk_run(f"unix://{dockerd.sock}"),
            }
            advance = ctx.progress("daemon: docker run --rm via vmvc and dockerd",
                                   (rounds + 1) * len(methods))
            for r, method in ctx.rounds_within(list(methods), rounds, warmup=1, least=5, what="docker runs"):
                ms = methods[method]()
                if r >= 0:
                    ctx.sample(method, "docker run --rm", ms, "ms", round=r)
                advance(1)
            _timed(argv, vd.env)  # one last CLI run: its conversation goes in the report
            ctx.fact("conversation", conversation(vd.trace_lines()))
    finally:
        vd.stop()
    ctx.note("Both servers run the same busybox image with --network none; dockerd is Debian's docker.io "
             "(with containerd and runc), started privately with no bridge and no iptables rules.")


def claims(res: Results) -> list[ClaimRow]:
    vm = res.get(NAME, "docker CLI → vmvc daemon", "docker run --rm")
    dk = res.get(NAME, "docker CLI → dockerd", "docker run --rm")
    if vm is None:
        return [ClaimRow("C13", "no daemon run measured", "not measured here",
                         "the daemon suite did not run on this host (see its status)")]
    calls = (res.facts.get(NAME) or {}).get("conversation") or []
    said = " → ".join(f"{m} {p.rsplit('/', 1)[-1]}" for m, p, _ in calls if "/containers/" in p)
    text = (f"the unmodified docker CLI ran `docker run --rm busybox true` through vmvc's daemon in "
            f"{vm.median:.0f} ms (median of {vm.n}); one run is {len(calls)} REST calls over a Unix socket"
            + (f" ({said})" if said else ""))
    if dk is not None:
        ratio = vm.median / dk.median
        text += f"; dockerd {dk.median:.0f} ms, ratio {ratio:.2f}× (target ≤ {TARGET}×)"
    return [ClaimRow("C13", text, "reproduced",
                     "client and server are separate processes speaking the Docker Engine API",
                     f"dockerd's own docker run --rm: {dk.median:.0f} ms here" if dk else
                     "dockerd ~243 ms on this kind of host (anchors)")]


def chart(res: Results, ax) -> None:
    rows = [(m, s.median, s.q1, s.q3) for m in ("docker CLI → vmvc daemon", "docker CLI → dockerd",
                                                 "SDK → vmvc daemon", "SDK → dockerd")
            if (s := res.get(NAME, m, "docker run --rm")) is not None]
    if not rows:
        return
    names = [r[0] for r in rows]
    ax.barh(names, [r[1] for r in rows], xerr=[[r[1] - r[2] for r in rows], [r[3] - r[1] for r in rows]],
            color=["#2a9d8f" if "vmvc" in n else "#8d99ae" for n in names])
    ax.set_xlabel("docker run --rm busybox true, median ms (IQR)")
    ax.invert_yaxis()
