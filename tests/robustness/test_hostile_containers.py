"""What a container can leave in its files must not stop the engine (issue 10, "cannot be taken down").

A deep tree in ``/tmp`` once crashed the janitor, then the spawner, then every restart's recovery;
a FIFO at ``/etc/passwd`` plus ``exec -u`` froze the whole engine. Each is reproduced here through
the real CLI, and the engine must keep serving with nothing leaked.
"""

from __future__ import annotations

import json
import os
import signal
import time

from runtime.images import open_store
from runtime.images.store import config_bytes
from tests.images.helpers import make_tar
from tests.robustness.conftest import REAL

pytestmark = REAL

# Wraps the tree in a new directory each round (mkdir t; mv d t/; mv t d): the container never needs
# a path longer than a few bytes, yet the host sees a chain deeper than Python's recursion limit
# (~1000) and longer than PATH_MAX (2048 levels of "d/").
DEEP = "cd /tmp && mkdir d && i=0 && while [ $i -lt {n} ]; do mkdir t; mv d t/; mv t d; i=$((i+1)); done"


def _wait_until(pred, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _leftovers(engine):
    return [n for n in os.listdir(engine.root) if n.startswith(".rm-")]


def test_a_deep_tree_left_by_a_rm_container_is_purged_and_the_engine_keeps_serving(vmvc, engine):
    r = vmvc("run", "--rm", "busybox", "sh", "-c", DEEP.format(n=1100))
    assert r.returncode == 0, r.stderr
    before = engine.spawner.request({"op": "ping"})
    _wait_until(lambda: not _leftovers(engine))  # the janitor deleted it (and lived)
    after = engine.spawner.request({"op": "ping"})
    assert (after["pid"], after["janitor"]) == (before["pid"], before["janitor"])
    assert vmvc("run", "--rm", "busybox", "echo", "alive").stdout == "alive\n"


def test_recovery_completes_over_a_deep_tree_and_rm_deletes_one(vmvc, engine):
    assert vmvc("run", "--name", "deep1", "busybox", "sh", "-c", DEEP.format(n=2100)).returncode == 0
    assert vmvc("run", "--name", "deep2", "busybox", "sh", "-c", DEEP.format(n=1050)).returncode == 0
    # a crash in the middle of deleting deep1: its directory renamed away, the spawner killed
    deep1 = engine.table.resolve("deep1")
    engine.table.forget(deep1)
    assert _leftovers(engine) == [f".rm-{deep1}"]
    spawner = engine.spawner.request({"op": "ping"})["pid"]
    os.kill(spawner, signal.SIGKILL)
    _wait_until(lambda: not os.path.exists(f"/proc/{spawner}") or open(f"/proc/{spawner}/stat").read()
                .rsplit(")", 1)[1].split()[0] == "Z")
    r = vmvc("run", "--rm", "busybox", "echo", "recovered")  # a new spawner: recovery completes...
    assert (r.returncode, r.stdout) == (0, "recovered\n"), r.stderr
    _wait_until(lambda: f".rm-{deep1}" not in _leftovers(engine))  # ...and its janitor deletes deep1
    r = vmvc("rm", "deep2")  # rm deletes a deep upper dir in the CLI process itself
    assert r.returncode == 0, r.stderr
    assert vmvc("ps", "-a", "-q").stdout == ""


def test_a_fifo_at_etc_passwd_does_not_freeze_exec_or_run(vmvc, engine):
    r = vmvc("run", "-d", "--name", "trap", "busybox", "sh", "-c",
             "rm /etc/passwd && mkfifo /etc/passwd && exec sleep 120")
    assert r.returncode == 0, r.stderr
    _wait_until(lambda: vmvc("exec", "trap", "test", "-p", "/etc/passwd").returncode == 0)
    r = vmvc("exec", "-u", "someuser", "trap", "id", timeout=30)
    assert r.returncode != 0  # not frozen: an answer, and a clean one
    assert r.stderr.strip().splitlines() == [r.stderr.strip()]  # one line
    assert "unable to find user someuser" in r.stderr
    r = vmvc("exec", "-u", "1234", "trap", "grep", "^Uid", "/proc/self/status", timeout=30)  # numeric
    assert r.returncode == 0 and r.stdout.split()[1] == "1234", r.stderr
    assert vmvc("run", "--rm", "busybox", "echo", "alive", timeout=30).stdout == "alive\n"
    assert vmvc("rm", "-f", "trap").returncode == 0


def test_an_image_shipping_a_fifo_passwd_cannot_freeze_run_u(vmvc, engine, tmp_path):
    busybox = open_store(os.path.join(os.path.dirname(engine.root), "images")).resolve("busybox")
    path = tmp_path / "fifo-passwd.tar"
    path.write_bytes(make_tar([("etc", "dir"), ("etc/passwd", "fifo"), ("etc/group", "fifo")]))
    r = vmvc("import", "-c", "USER someuser", str(path), "fifo:1")
    assert r.returncode == 0, r.stderr
    # a two-layer image: busybox below, the FIFOs on top (built the way load would, from the store)
    store = open_store(os.path.join(os.path.dirname(engine.root), "images"))
    top = store.resolve("fifo:1")
    body = {"architecture": "amd64", "os": "linux", "config": {"User": "someuser", "Cmd": ["true"]},
            "rootfs": {"type": "layers", "diff_ids": busybox.diff_ids + top.diff_ids}}
    with store.staging() as stage:
        for image in (busybox, top):
            for d in image.diff_ids:
                with store.open_layer_tar(d) as f:
                    stage.add_layer(f, expect=d)
        store.add(stage, body["rootfs"]["diff_ids"], config_bytes(body), ["fifo:2"])
    assert json.loads(vmvc("image", "inspect", "fifo:2").stdout)[0]["Config"]["User"] == "someuser"
    r = vmvc("run", "--rm", "fifo:2", timeout=30)
    assert r.returncode != 0 and "unable to find user someuser" in r.stderr, r.stderr
    assert vmvc("run", "--rm", "busybox", "echo", "alive", timeout=30).stdout == "alive\n"
