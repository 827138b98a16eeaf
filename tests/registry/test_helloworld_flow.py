"""The tutorial's HelloWorld flow: run -> not found locally -> pull from the registry -> run; through
the vmvc CLI and through the real docker CLI talking to vmvc's daemon, in docker's words."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from benchmarks.netshape import ShapedProxy
from tests.daemon.conftest import REAL_PARTS, DaemonProc

pytestmark = [*REAL_PARTS, pytest.mark.registry]
VMVC = os.path.join(os.path.dirname(sys.executable), "vmvc")


def env_with_hub(tmp_path, hub_url, mirrors=()):
    conf = tmp_path / "daemon.json"
    conf.write_text(json.dumps({"hub": hub_url, "registry-mirrors": list(mirrors)}))
    return {**os.environ, "VMVC_ROOT": str(tmp_path / "state"), "VMVC_DAEMON_CONFIG": str(conf)}


def test_vmvc_run_pulls_a_missing_image_with_dockers_words(hub, tmp_path):
    env = env_with_hub(tmp_path, hub.url)
    try:
        r = subprocess.run([VMVC, "run", "--rm", "hello-world"], env=env, capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 0, r.stderr
        assert "Hello from vmvc!" in r.stdout
        lines = r.stderr.splitlines()
        assert lines[0] == "Unable to find image 'hello-world:latest' locally"
        assert "latest: Pulling from library/hello-world" in lines
        assert any(ln.startswith("Digest: sha256:") for ln in lines)
        assert any(ln.startswith("Status: Downloaded newer image for hello-world:latest") for ln in lines)
        again = subprocess.run([VMVC, "run", "--rm", "hello-world"], env=env, capture_output=True, text=True,
                               timeout=60)
        assert again.returncode == 0 and "Unable to find" not in again.stderr  # local now
        missing = subprocess.run([VMVC, "run", "--rm", "nosuch"], env=env, capture_output=True, text=True,
                                 timeout=60)
        assert missing.returncode == 125
        assert missing.stderr.strip().splitlines()[-1].startswith("vmvc: ")
        assert "manifest unknown" in missing.stderr
        images = subprocess.run([VMVC, "images"], env=env, capture_output=True, text=True, timeout=60).stdout
        assert "nosuch" not in images
    finally:
        subprocess.run([VMVC, "system", "stop"], env=env, capture_output=True, timeout=60)


@pytest.mark.docker_cli
def test_docker_run_through_the_daemon_pulls_from_the_hub_and_mirror(hub, tmp_path, no_leaks):
    with ShapedProxy(hub.port) as mirror:
        d = DaemonProc(tmp_path)
        conf = tmp_path / "daemon.json"
        conf.write_text(json.dumps({"hub": hub.url, "registry-mirrors": [mirror.url]}))
        d.start("--config-file", str(conf))
        try:
            r = d.docker("run", "--rm", "hello-world", timeout=120)
            assert r.returncode == 0, r.stderr
            assert b"Hello from vmvc!" in r.stdout
            assert b"Unable to find image 'hello-world:latest' locally" in r.stderr
            assert b"Status: Downloaded newer image for hello-world:latest" in r.stderr
            assert any(b"/v2/library/hello-world/manifests/latest" in q for q in mirror.requests)
            info = d.docker("info", "--format", "{{json .RegistryConfig.Mirrors}}", check=True)
            info = json.loads(info.stdout)
            assert info == [mirror.url]
            pulled = d.docker("pull", "busybox", check=True)
            assert b"Pull complete" in pulled.stdout
            d.docker("tag", "busybox", f"{hub.host}/class/bb:2", check=True)
            pushed = d.docker("push", f"{hub.host}/class/bb:2", timeout=120)
            assert pushed.returncode == 0 and b"digest: sha256:" in pushed.stdout, pushed.stderr
            bad = d.docker("pull", "nosuch")
            assert bad.returncode == 1 and b"manifest unknown" in bad.stderr
        finally:
            d.close_clients()
            d.stop()
            d.engine_stop()


def test_killing_a_pull_leaves_the_store_unchanged(hub, tmp_path):
    env = env_with_hub(tmp_path, "")
    with ShapedProxy(hub.port, rate=200_000) as slow:  # ~10 s for busybox: time to kill it mid-way
        conf = json.loads(open(env["VMVC_DAEMON_CONFIG"]).read())
        conf["hub"] = slow.url
        with open(env["VMVC_DAEMON_CONFIG"], "w") as f:
            json.dump(conf, f)
        for sig in (signal.SIGKILL, signal.SIGINT):
            p = subprocess.Popen([VMVC, "pull", "busybox"], env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not any(b"GET" in q and b"/blobs/" in q
                                                          for q in slow.requests):
                time.sleep(0.05)
            time.sleep(0.5)
            p.send_signal(sig)
            p.communicate(timeout=60)
            assert p.returncode != 0
            listing = subprocess.run([VMVC, "images", "-q"], env=env, capture_output=True, text=True,
                                     timeout=60)
            assert listing.stdout.strip() == "", f"after {sig!r}: {listing.stdout}"
