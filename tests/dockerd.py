"""A private Docker daemon (Debian's docker.io) for interoperability tests.

Started the way docs/host-facts.md says is safe here: no iptables, no bridge, no IP forwarding, its own
data root, exec root and socket under a temp dir, so it touches nothing of the host's. Stopped with
SIGTERM; whatever mounts it left under its dirs are unmounted before the dirs are removed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time


class Dockerd:
    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="vmvc-dockerd-")
        self.sock = os.path.join(self.dir, "docker.sock")
        self.env = {**os.environ, "DOCKER_HOST": f"unix://{self.sock}"}
        self.log = open(os.path.join(self.dir, "dockerd.log"), "wb")
        self.proc = subprocess.Popen(
            ["dockerd", "--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false",
             "--bridge=none", "--data-root", f"{self.dir}/data", "--exec-root", f"{self.dir}/exec",
             "--pidfile", f"{self.dir}/dockerd.pid", "-H", f"unix://{self.sock}"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while self.docker("version", check=False).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"dockerd did not start: see {self.dir}/dockerd.log")
            time.sleep(0.2)

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["docker", *args], env=self.env, capture_output=True, text=True, check=check,
                              timeout=120)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()
        with open("/proc/self/mountinfo") as f:
            leftovers = [line.split()[4] for line in f if self.dir in line.split()[4]]
        for target in sorted(leftovers, key=len, reverse=True):
            subprocess.run(["umount", "-l", target], check=False, timeout=120)
        shutil.rmtree(self.dir, ignore_errors=True)
