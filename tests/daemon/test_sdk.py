"""The docker Python SDK (7.x) against ``vmvc daemon``, and many clients at once."""

from __future__ import annotations

import threading

import pytest

from tests.daemon.conftest import REAL_PARTS

pytestmark = REAL_PARTS


def test_sdk_run_detach_list_exec_logs_wait_attach(vmvcd):
    import docker

    c = vmvcd.sdk()
    assert c.version()["ApiVersion"] == "1.45"
    assert c.containers.run("busybox", ["echo", "hi sdk"], remove=True) == b"hi sdk\n"
    with pytest.raises(docker.errors.ContainerError) as err:
        c.containers.run("busybox", ["sh", "-c", "exit 2"], remove=True)
    assert err.value.exit_status == 2
    x = c.containers.run("busybox", ["sh", "-c", "echo a; sleep 30"], detach=True, name="sdk1",
                         labels={"course": "vmvc"})
    other = c.containers.run("busybox", ["sleep", "30"], detach=True, name="sdk2")
    assert [y.name for y in c.containers.list(filters={"label": "course=vmvc"})] == ["sdk1"]
    assert {y.name for y in c.containers.list(filters={"status": "running"})} == {"sdk1", "sdk2"}
    assert [y.name for y in c.containers.list(filters={"name": "sdk2"})] == ["sdk2"]
    assert any("busybox:latest" in i.tags for i in c.images.list())
    res = x.exec_run(["sh", "-c", "echo exec out; exit 4"])
    assert (res.exit_code, res.output) == (4, b"exec out\n")
    stream = x.logs(stream=True)
    assert next(stream) == b"a\n"
    stream.close()
    sock = x.attach_socket(params={"stdout": 1, "stream": 1})
    sock._sock.close()  # the SDK's SocketIO.close() leaves the raw socket open
    x.kill()
    assert x.wait()["StatusCode"] == 137
    x.remove()
    other.remove(force=True)
    assert c.containers.list(all=True) == []


def test_twenty_clients_in_parallel(vmvcd):
    c = vmvcd.sdk()
    results, errors = {}, []

    def worker(i):
        try:
            client = vmvcd.sdk()
            out = client.containers.run("busybox", ["sh", "-c", f"echo client-{i}"], remove=True,
                                        name=f"par{i}")
            results[i] = out
        except Exception as e:  # collected and asserted below
            errors.append(f"{i}: {e!r}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    assert results == {i: f"client-{i}\n".encode() for i in range(20)}
    assert c.containers.list(all=True) == []
