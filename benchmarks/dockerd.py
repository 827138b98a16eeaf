"""Debian's dockerd started privately, as an anchor to time ``docker run --rm`` against.

Started the way docs/host-facts.md says is safe on this kind of host: no iptables rules, no bridge, no IP
forwarding, and its own data root, exec root, pid file and socket in a temp dir (``vmvc-bench-dockerd-*``),
so it touches nothing of the host's and no other docker. The busybox image comes from vmvc's own store
(``vmvc save`` → ``docker load``): nothing is pulled. :meth:`PrivateDockerd.stop` ends the daemon's whole
process group (dockerd, its containerd, any shim), unmounts what it left under its dirs and removes them;
it runs on any exit of the ``with`` block, Ctrl-C included.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time

FLAGS = ["--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false", "--bridge=none"]


class DockerdError(RuntimeError):
    pass


class PrivateDockerd:
    def __init__(self, start_timeout: float = 60.0) -> None:
        self.dir = tempfile.mkdtemp(prefix="vmvc-bench-dockerd-")
        self.sock = os.path.join(self.dir, "docker.sock")
        self.env = {**os.environ, "DOCKER_HOST": f"unix://{self.sock}"}
        self.proc: subprocess.Popen | None = None
        self.log_path = os.path.join(self.dir, "dockerd.log")
        try:
            with open(self.log_path, "wb") as log:
                self.proc = subprocess.Popen(
                    ["dockerd", *FLAGS, "--data-root", f"{self.dir}/data", "--exec-root", f"{self.dir}/exec",
                     "--pidfile", f"{self.dir}/dockerd.pid", "-H", f"unix://{self.sock}"],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            deadline = time.monotonic() + start_timeout
            while self.docker("version", check=False).returncode != 0:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise DockerdError(f"dockerd did not start: {self._log_tail()}")
                time.sleep(0.2)
        except BaseException:
            self.stop()
            raise

    def __enter__(self) -> PrivateDockerd:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _log_tail(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                lines = [ln.strip() for ln in f if ln.strip()]
            return lines[-1][:200] if lines else "(empty log)"
        except OSError:
            return "(no log)"

    def docker(self, *args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
        r = subprocess.run(["docker", *args], env=self.env, capture_output=True, text=True, **kw)
        if check and r.returncode != 0:
            raise DockerdError(f"docker {' '.join(args)}: {(r.stderr or r.stdout).strip()[:200]}")
        return r

    def load_from_vmvc(self, image: str = "busybox") -> None:
        """``vmvc save IMAGE | docker load``: the same image the engine runs, without a registry."""
        from runtime.images import open_store
        from runtime.images.archives import save

        tar = os.path.join(self.dir, "image.tar")
        with open(tar, "wb") as f:
            save(open_store(), [image], f)
        self.docker("load", "-i", tar)
        os.unlink(tar)

    def run_argv(self, image: str = "busybox", cmd: tuple[str, ...] = ("true",)) -> list[str]:
        """``docker run --rm`` without a network (the daemon has no bridge), as the anchor's command."""
        return [shutil.which("docker") or "docker", "run", "--rm", "--network", "none", image, *cmd]

    def stop(self) -> None:
        """SIGTERM, then SIGKILL to the whole group after 20 s; unmount leftovers; remove the dirs."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        if proc is not None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # containerd and shims share dockerd's session
            except ProcessLookupError:
                pass
            proc.wait()
        with open("/proc/self/mountinfo") as f:
            leftovers = [line.split()[4] for line in f if line.split()[4].startswith(self.dir)]
        for target in sorted(leftovers, key=len, reverse=True):
            subprocess.run(["umount", "-l", target], check=False, capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)
