"""A real ``vmvc daemon`` on a temp socket, over a private state root, for the real docker CLI and SDK."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

VMVC = os.path.join(os.path.dirname(sys.executable), "vmvc")
REAL_PARTS = [pytest.mark.root, pytest.mark.namespaces, pytest.mark.overlay, pytest.mark.cgroups,
              pytest.mark.busybox]


class DaemonProc:
    def __init__(self, tmp_path):
        self.root = str(tmp_path / "state")
        self.sock = str(tmp_path / "d.sock")
        self.log = str(tmp_path / "daemon.log")
        self.env = {**os.environ, "VMVC_ROOT": self.root, "DOCKER_HOST": f"unix://{self.sock}",
                    "DOCKER_CONFIG": str(tmp_path / "docker-config")}
        self.env.pop("DOCKER_CONTEXT", None)
        self.proc = None
        self.clients = []

    def start(self, *extra):
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([VMVC, "daemon", "-H", f"unix://{self.sock}", "--trace", *extra],
                                         env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not os.path.exists(self.sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("daemon did not start: " + open(self.log).read())
            time.sleep(0.02)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def docker(self, *args, input=None, timeout=60, check=False):
        r = subprocess.run([shutil.which("docker"), *args], env=self.env, input=input, capture_output=True,
                           timeout=timeout)
        if check and r.returncode:
            raise AssertionError(f"docker {' '.join(args)} -> {r.returncode}: {r.stderr.decode()}")
        return r

    def sdk(self):
        import docker

        client = docker.DockerClient(base_url=f"unix://{self.sock}", timeout=60)
        self.clients.append(client)
        return client

    def close_clients(self):
        import gc

        for c in self.clients:
            c.close()
        self.clients.clear()
        gc.collect()  # responses the SDK keeps in exceptions and generators hold sockets until collected

    def trace(self) -> str:
        with open(self.log) as f:
            return f.read()

    def engine_stop(self):
        subprocess.run([VMVC, "system", "stop"], env=self.env, capture_output=True, timeout=60)


@pytest.fixture
def vmvcd(tmp_path, no_leaks):
    d = DaemonProc(tmp_path).start()
    try:
        yield d
    finally:
        d.close_clients()
        d.stop()
        d.engine_stop()
