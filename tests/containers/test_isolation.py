"""The tutorial's claims, on the real kernel: own PID 1, hostname, filesystem, network; shared kernel."""

from __future__ import annotations

import os
import platform

import pytest

from tests.containers.conftest import REAL

pytestmark = REAL


def test_the_process_is_pid_1_and_sees_only_its_own_processes(run):
    r = run("sh", "-c", "echo $$; ls /proc | grep -c '^[0-9]'")
    pid1, count = r.stdout.decode().split()
    assert r.exit_code == 0
    assert pid1 == "1"
    assert int(count) <= 3  # sh, ls, grep: no host process is visible


def test_hostname_is_the_containers_own(run):
    r = run("hostname", hostname="box1")
    assert r.stdout == b"box1\n"
    assert platform.node() != "box1"
    r = run("cat", "/etc/hostname")
    assert len(r.stdout.strip()) == 12  # the short id, like docker


def test_the_kernel_is_the_hosts(run):
    assert run("uname", "-r").stdout.decode().strip() == platform.release()


def test_host_files_are_not_visible(run, tmp_path):
    secret = tmp_path / "vmvc-host-secret"
    secret.write_text("host only")
    r = run("sh", "-c", f"cat {secret}; ls /")
    assert r.exit_code != 0 or b"host only" not in r.stdout
    assert b"host only" not in r.stdout
    assert sorted(r.stdout.decode().split()) == sorted(
        ["bin", "dev", "etc", "home", "proc", "root", "sbin", "sys", "tmp", "usr", "var"]
    )


def test_containers_of_one_image_do_not_see_each_others_writes(engine, run):
    from runtime.containers import Spec
    from runtime.images import open_store

    a = engine.create(Spec("busybox", ["sh", "-c", "echo A > /etc/marker; cat /etc/marker"]))
    b = engine.create(Spec("busybox", ["sh", "-c", "cat /etc/marker 2>&1; echo B > /tmp/b"]))
    engine.start(a)
    assert engine.wait(a) == 0
    engine.start(b)
    assert engine.wait(b) == 0
    logs_b = b"".join(e["log"].encode() for e in engine.logs(b))
    assert b"No such file" in logs_b
    image = open_store().resolve("busybox")
    for layer in image.layer_dirs:
        assert not os.path.exists(os.path.join(layer, "etc/marker"))
        assert not os.path.exists(os.path.join(layer, "tmp/b"))
    assert run("cat", "/etc/marker").exit_code == 1  # a new container starts from the image again
    engine.remove(a)
    engine.remove(b)


def test_minimal_dev_and_read_only_sys(run):
    r = run("sh", "-c", "ls /dev; touch /sys/x 2>&1; echo; cat /proc/kcore | wc -c; ls -l /dev/ptmx")
    out = r.stdout.decode()
    for node in ("null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "ptmx"):
        assert node in out.split() or f"/dev/{node}" in out
    assert "Read-only file system" in out
    assert "\n0\n" in out  # /proc/kcore is masked


def test_capabilities_are_dockers_defaults_and_no_new_privs(run):
    from runtime.linux import capabilities

    out = run("cat", "/proc/self/status").stdout.decode()
    fields = dict(line.split(":\t", 1) for line in out.splitlines() if ":\t" in line)
    want = capabilities.mask(capabilities.DOCKER_DEFAULT)
    assert int(fields["CapBnd"], 16) == want
    assert int(fields["CapEff"], 16) == want
    assert fields["NoNewPrivs"].strip() == "1"


def test_private_network_has_only_loopback_up(run):
    out = run("cat", "/proc/net/dev").stdout.decode()
    names = [line.split(":")[0].strip() for line in out.splitlines()[2:]]
    assert names == ["lo"]
    assert run("ping", "-c", "1", "-W", "1", "127.0.0.1").exit_code == 0


def test_host_network_sees_host_interfaces(run):
    out = run("cat", "/proc/net/dev", network="host").stdout.decode()
    names = {line.split(":")[0].strip() for line in out.splitlines()[2:]}
    with open("/proc/net/dev") as f:
        host = {line.split(":")[0].strip() for line in f.read().splitlines()[2:]}
    assert names == host


@pytest.mark.parametrize(
    "user,expect", [("1000", "uid=1000 gid=0"), ("nobody", "uid=65534"), ("123:456", "uid=123 gid=456")]
)
def test_user(run, user, expect):
    r = run("id", user=user)
    assert expect in r.stdout.decode()
    out = run("grep", "CapEff", "/proc/self/status", user="1000").stdout.decode()
    assert int(out.split()[1], 16) == 0


def test_env_workdir_and_volumes(run, tmp_path):
    src = tmp_path / "vmvc-vol"
    src.mkdir()
    (src / "in.txt").write_text("from host")
    r = run(
        "sh",
        "-c",
        "echo $FOO; pwd; cat /data/in.txt; echo out > /data/out.txt",
        env=["FOO=bar"],
        workdir="/work/dir",
        volumes=[__import__("runtime.containers", fromlist=["Volume"]).Volume(str(src), "/data")],
    )
    assert r.stdout.decode().split("\n")[:3] == ["bar", "/work/dir", "from host"]
    assert (src / "out.txt").read_text() == "out\n"
    from runtime.containers import Volume

    r = run("sh", "-c", "echo x > /data/y", volumes=[Volume(str(src), "/data", readonly=True)])
    assert r.exit_code != 0 and b"Read-only" in r.stderr
