"""The real docker CLI (28.x) against ``vmvc daemon``: the tutorial's commands, exact output and codes."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import struct
import subprocess
import tarfile
import termios
import time

import pytest

from tests.daemon.conftest import REAL_PARTS

pytestmark = [*REAL_PARTS, pytest.mark.docker_cli]


def test_version_info_images(vmvcd):
    v = vmvcd.docker("version", "--format", "{{json .Server}}", check=True)
    server = json.loads(v.stdout)
    assert server["ApiVersion"] == "1.45" and server["Os"] == "linux"
    info = vmvcd.docker("info", "--format", "{{json .}}", check=True)
    data = json.loads(info.stdout)
    assert data["OSType"] == "linux" and data["NCPU"] >= 1 and data["Driver"] == "overlay2"
    assert "vmvc" in vmvcd.docker("version").stdout.decode()
    vmvcd.docker("run", "--rm", "busybox", "true", check=True)
    assert b"busybox" in vmvcd.docker("images", check=True).stdout


def test_run_rm_output_and_exit_codes(vmvcd):
    r = vmvcd.docker("run", "--rm", "busybox", "echo", "hi")
    assert (r.returncode, r.stdout) == (0, b"hi\n")
    r = vmvcd.docker("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (r.returncode, r.stdout, r.stderr) == (3, b"out\n", b"err\n")
    r = vmvcd.docker("run", "--rm", "hello-world")
    assert r.returncode == 0 and b"Hello" in r.stdout
    r = vmvcd.docker("run", "--rm", "nosuchimage", "true")
    assert r.returncode == 125 and b"Unable to find image 'nosuchimage:latest' locally" in r.stderr
    r = vmvcd.docker("run", "--rm", "busybox", "/nonexistent")
    assert r.returncode == 127
    assert vmvcd.docker("ps", "-aq", check=True).stdout == b""  # every --rm container is gone
    trace = vmvcd.trace()
    order = [line.split()[3].split("/")[-1].split("?")[0] for line in trace.splitlines()
             if line.startswith("trace") and "/containers/" in line]
    assert {"create", "attach", "wait", "start"} <= set(order)


def test_detached_lifecycle(vmvcd):
    d = vmvcd.docker
    cid = d("run", "-d", "--name", "x", "busybox", "sh", "-c", "echo started; sleep 60", check=True)
    cid = cid.stdout.decode().strip()
    assert len(cid) == 64
    assert b" x\n" in d("ps", check=True).stdout
    deadline = time.monotonic() + 10
    while b"started" not in d("logs", "x").stdout and time.monotonic() < deadline:
        time.sleep(0.1)
    assert d("logs", "x", check=True).stdout == b"started\n"
    ex = d("exec", "x", "ps")
    assert ex.returncode == 0 and b"sleep 60" in ex.stdout
    assert d("exec", "x", "sh", "-c", "exit 7").returncode == 7
    top = d("top", "x", check=True).stdout.decode()
    assert "PID" in top and "sleep 60" in top
    stats = d("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "x", check=True).stdout
    assert stats.split()[0] == b"x"
    assert d("rm", "x").returncode == 1  # running: docker refuses without -f
    assert d("stop", "-t", "1", "x", check=True).stdout == b"x\n"
    assert b"Exited" in d("ps", "-a", check=True).stdout
    assert d("ps", "-q", check=True).stdout == b""
    d("start", "x", check=True)
    d("restart", "-t", "1", "x", check=True)
    assert b"Up" in d("ps", check=True).stdout
    assert d("inspect", "--format", "{{.State.Running}} {{.Name}}", "x", check=True).stdout == b"true /x\n"
    d("rm", "-f", "x", check=True)
    assert d("ps", "-aq", check=True).stdout == b""
    assert d("stop", "nosuch").returncode == 1
    assert d("exec", "nosuch", "ls").returncode == 1


def test_logs_follow_ends_with_the_container(vmvcd):
    vmvcd.docker("run", "-d", "--name", "f", "busybox", "sh", "-c",
                 "for i in 1 2 3; do echo $i; sleep 0.2; done", check=True)
    r = vmvcd.docker("logs", "-f", "f", timeout=30)
    assert r.returncode == 0 and r.stdout == b"1\n2\n3\n"
    vmvcd.docker("rm", "f", check=True)


def test_run_i_with_piped_stdin(vmvcd):
    r = vmvcd.docker("run", "-i", "--rm", "busybox", "sh", "-c", "tr a-z A-Z; echo done",
                     input=b"hello\nworld\n")
    assert (r.returncode, r.stdout) == (0, b"HELLO\nWORLD\ndone\n")


def _pty_run(env, argv, keys: list[bytes], timeout=20):
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(argv[0], argv, env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
    out = bytearray()
    deadline = time.monotonic() + timeout

    def read_for(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < min(end, deadline):
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    out.extend(os.read(fd, 4096))
                except OSError:
                    return

    read_for(1.5)
    for k in keys:
        os.write(fd, k)
        read_for(1.0)
    status = None
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        read_for(0.2)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        raise AssertionError(f"{argv} did not end; screen: {bytes(out)!r}")
    os.close(fd)
    return os.waitstatus_to_exitcode(status), bytes(out)


def test_run_it_and_exec_it_through_a_pty(vmvcd):
    code, out = _pty_run(vmvcd.env, ["docker", "run", "-it", "--rm", "--name", "t", "busybox", "sh"],
                         [b"stty size; echo mark$((40+2))\r", b"exit 5\r"])
    assert code == 5, out
    assert b"33 101" in out and b"mark42" in out
    vmvcd.docker("run", "-d", "--name", "e", "busybox", "sleep", "60", check=True)
    code, out = _pty_run(vmvcd.env, ["docker", "exec", "-it", "e", "sh"],
                         [b"tty; echo x$((1+1))\r", b"exit\r"])
    assert code == 0 and b"/dev/pts" in out and b"x2" in out, out
    vmvcd.docker("rm", "-f", "e", check=True)


def test_events_while_another_client_runs(vmvcd):
    fmt = "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}"
    ev = subprocess.Popen(["docker", "events", "--format", fmt], env=vmvcd.env, stdout=subprocess.PIPE)
    try:
        time.sleep(0.5)
        vmvcd.docker("run", "--rm", "--name", "ev1", "busybox", "true", check=True)
        time.sleep(0.5)
    finally:
        ev.terminate()
        out = ev.communicate(timeout=10)[0].decode()
    lines = [ln for ln in out.splitlines() if ln.endswith(" ev1")]
    assert [ln.split()[1] for ln in lines] == ["create", "start", "die", "destroy"], out


def test_import_tag_rmi_inspect_df(vmvcd, tmp_path):
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "greeting").write_text("imported\n")
    tar = tmp_path / "r.tar"
    with tarfile.open(tar, "w") as t:
        t.add(root, arcname=".")
    r = vmvcd.docker("import", str(tar), "mine:1", check=True)
    assert r.stdout.startswith(b"sha256:")
    vmvcd.docker("tag", "mine:1", "mine:2", check=True)
    listing = vmvcd.docker("images", "--format", "{{.Repository}}:{{.Tag}}", check=True).stdout.split()
    assert b"mine:1" in listing and b"mine:2" in listing
    assert vmvcd.docker("rmi", "mine:2", check=True).stdout == b"Untagged: mine:2\n"
    info = json.loads(vmvcd.docker("inspect", "mine:1", check=True).stdout)
    assert info[0]["RootFS"]["Type"] == "layers" and len(info[0]["RootFS"]["Layers"]) == 1
    assert b"Images" in vmvcd.docker("system", "df", check=True).stdout
    assert vmvcd.docker("inspect", "nosuch").returncode == 1
    assert vmvcd.docker("rmi", "nosuch").returncode == 1


def test_stopping_the_daemon_keeps_containers_for_the_next_one(vmvcd):
    vmvcd.docker("run", "-d", "--name", "keep", "busybox", "sleep", "60", check=True)
    vmvcd.stop()
    vmvcd.start()
    assert b"keep" in vmvcd.docker("ps", check=True).stdout
    vmvcd.docker("rm", "-f", "keep", check=True)
