"""``docker login`` then ``docker push`` through vmvc's daemon to a registry that wants a password: the
daemon pushes with the credentials the client sends (X-Registry-Auth), not with a config.json of its own."""

from __future__ import annotations

import subprocess

import pytest

from runtime.registry import LocalRegistry
from tests.daemon.conftest import REAL_PARTS, DaemonProc

pytestmark = [*REAL_PARTS, pytest.mark.registry, pytest.mark.docker_cli]


def test_docker_push_through_the_daemon_uses_the_clients_login(tmp_path, no_leaks):
    bcrypt = pytest.importorskip("bcrypt")
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_bytes(b"teacher:" + bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)) + b"\n")
    d = DaemonProc(tmp_path).start()
    client = {**d.env, "DOCKER_CONFIG": str(tmp_path / "client-config")}  # not the daemon's config.json

    def docker(*args, input=None):
        return subprocess.run(["docker", *args], env=client, input=input, capture_output=True, text=True,
                              timeout=120)

    try:
        with LocalRegistry(str(tmp_path / "private"), htpasswd=str(htpasswd)) as reg:
            ref = f"{reg.host}/class/bb:1"
            assert docker("pull", "busybox").returncode == 0  # vmvc's own busybox, made on demand
            assert docker("tag", "busybox", ref).returncode == 0
            denied = docker("push", ref)
            assert denied.returncode == 1 and "authentication required" in denied.stdout + denied.stderr
            login = docker("login", reg.host, "-u", "teacher", "--password-stdin", input="s3cret\n")
            assert login.returncode == 0, login.stderr
            pushed = docker("push", ref)
            assert pushed.returncode == 0, pushed.stdout + pushed.stderr
            assert pushed.stdout.count("1: digest: sha256:") == 1, pushed.stdout  # said once
    finally:
        d.stop()
        d.engine_stop()
