"""``VMVC_HOST=unix://… vmvc CMD``: vmvc's own CLI through ``vmvc daemon``, printing what the direct path
prints, with docker's exit codes, sharing its containers and images with the real docker CLI."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile

import pytest

from tests.daemon.conftest import REAL_PARTS, VMVC
from tests.daemon.test_docker_cli import _pty_run
from tests.registry.conftest import hub  # noqa: F401  (a loopback registry seeded as the hub)

pytestmark = [*REAL_PARTS, pytest.mark.docker_cli]


def test_run_rm_output_exit_codes_and_request_order(remote):
    v = remote.remote
    r = v("run", "--rm", "busybox", "echo", "hi")
    assert (r.returncode, r.stdout, r.stderr) == (0, "hi\n", "")
    r = v("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (r.returncode, r.stdout, r.stderr) == (3, "out\n", "err\n")
    r = v("run", "--rm", "-e", "GREETING=hey", "--name", "named", "busybox", "sh", "-c", "echo $GREETING")
    assert (r.returncode, r.stdout) == (0, "hey\n")
    r = v("run", "-i", "--rm", "busybox", "tr", "a-z", "A-Z", input="hello\nworld\n")
    assert (r.returncode, r.stdout) == (0, "HELLO\nWORLD\n")
    for argv, code in ((["busybox", "/nonexistent"], 127), (["busybox", "/etc/passwd"], 126),
                       (["busybox", "sh", "-c", "exit 9"], 9),
                       (["--init", "busybox", "sh", "-c", "kill -9 $$"], 128 + 9)):
        r = v("run", "--rm", *argv)
        direct = remote.direct("run", "--rm", *argv)
        assert r.returncode == direct.returncode == code, (r.stderr, direct.stderr)
        assert r.stderr == direct.stderr  # the same one line
    r = v("run", "--rm", "nosuchimage", "true")
    assert r.returncode == 125 and "Unable to find image 'nosuchimage:latest' locally" in r.stderr
    last = r.stderr.splitlines()[-1]
    assert last.startswith("vmvc: Error response from daemon: No such image: nosuchimage")
    assert v("ps", "-aq").stdout == ""  # every --rm container is gone
    traced = sorted(ln.split() for ln in remote.trace().splitlines()  # by arrival time
                    if ln.startswith("trace") and "/containers/" in ln)
    calls = [words[3].split("?")[0].rsplit("/", 1)[-1] for words in traced]
    assert calls[:4] == ["create", "attach", "wait", "start"], calls  # docker's order: no output lost


def test_detached_lifecycle_with_logs_follow_exec_and_filters(remote):
    v = remote.remote
    cid = v("run", "-d", "--name", "x", "--label", "role=web", "busybox", "sh", "-c",
            "echo started; exec sleep 60").stdout.strip()
    assert len(cid) == 64
    v("create", "--name", "idle", "busybox", "true")
    follow = subprocess.Popen([VMVC, "logs", "-f", "x"], env={**remote.env, "VMVC_HOST": f"unix://{remote.sock}"},
                              stdout=subprocess.PIPE, text=True)
    try:
        assert follow.stdout.readline() == "started\n"
        assert v("ps", "-q").stdout == cid[:12] + "\n"
        assert v("ps", "-q", "--filter", "label=role=web").stdout == cid[:12] + "\n"
        idle = v("ps", "-aq", "--filter", "name=idle").stdout
        assert len(idle) == 13 and v("ps", "-q", "--filter", "status=created").stdout == idle
        assert v("ps", "-q", "--filter", "name=nosuch").stdout == ""
        ex = v("exec", "x", "ps")
        assert ex.returncode == 0 and "sleep 60" in ex.stdout
        assert v("exec", "x", "sh", "-c", "exit 7").returncode == 7
        assert v("exec", "-i", "x", "cat", input="piped\n").stdout == "piped\n"
        assert "sleep 60" in v("top", "x").stdout
        assert v("rm", "x").returncode == 1  # running: refused without -f, as docker does
        assert v("stop", "-t", "0", "x").stdout == "x\n"
        assert follow.wait(30) == 0  # logs -f ends when the container does
    finally:
        follow.kill()
        follow.wait()
    ps = v("ps", "-a", "--filter", "status=exited")
    assert ps.stdout.splitlines()[1].split()[-1] == "x" and "Exited (137)" in ps.stdout
    stamped = v("logs", "--timestamps", "x").stdout
    assert stamped.endswith(" started\n") and stamped[:4].isdigit()
    assert v("restart", "-t", "0", "x").stdout == "x\n"
    assert "true /x" in v("inspect", "--format", "{{.State.Running}} {{.Name}}", "x").stdout
    assert v("kill", "x").stdout == "x\n"
    assert v("wait", "x").stdout == "137\n"
    assert v("rm", "-f", "x", "idle").returncode == 0
    for where in (v, remote.direct):  # a --rm container removed by force: its own exit races the remove
        where("run", "-d", "--rm", "--name", "gone", "busybox", "sleep", "60")
        assert where("rm", "-f", "gone").stdout == "gone\n"
    assert v("ps", "-aq").stdout == ""
    r = v("stop", "nosuch")
    assert (r.returncode, r.stderr) == (1, "Error response from daemon: No such container: nosuch\n")


def test_it_through_a_real_pty(remote):
    env = {**remote.env, "VMVC_HOST": f"unix://{remote.sock}"}
    code, out = _pty_run(env, [VMVC, "run", "-it", "--rm", "busybox", "sh"],
                         [b"stty size; echo mark$((40+2))\r", b"exit 5\r"])
    assert code == 5, out
    assert b"33 101" in out and b"mark42" in out
    remote.remote("run", "-d", "--name", "e", "busybox", "sleep", "60")
    code, out = _pty_run(env, [VMVC, "exec", "-it", "e", "sh"], [b"tty; echo x$((1+1))\r", b"exit 3\r"])
    assert code == 3 and b"/dev/pts" in out and b"x2" in out, out
    remote.remote("rm", "-f", "e")


def test_one_engine_seen_by_vmvc_and_docker_alike(remote, tmp_path):
    v, docker = remote.remote, remote.docker
    v("run", "-d", "--name", "from-vmvc", "busybox", "sleep", "60")
    docker("run", "-d", "--name", "from-docker", "busybox", "sleep", "60", check=True)
    names = docker("ps", "--format", "{{.Names}}", check=True).stdout.decode().split()
    assert sorted(names) == ["from-docker", "from-vmvc"]
    assert sorted(line.split()[-1] for line in v("ps").stdout.splitlines()[1:]) == sorted(names)
    assert v("ps", "-aq").stdout == remote.direct("ps", "-aq").stdout  # the direct path sees the same
    # images: the built-ins are there before any run made them; the listing is the direct path's
    assert v("images", "-q").stdout == remote.direct("images", "-q").stdout
    rootfs = tmp_path / "rootfs.tar"
    with tarfile.open(rootfs, "w") as tf:
        info = tarfile.TarInfo("hello.txt")
        info.size = 3
        tf.addfile(info, io.BytesIO(b"hi\n"))
    image_id = v("import", str(rootfs), "imported:1").stdout.strip()
    assert image_id.startswith("sha256:")
    seen = docker("image", "inspect", "--format", "{{.Id}}", "imported:1", check=True).stdout.decode()
    assert seen.strip() == image_id
    change = ["-c", 'CMD ["cat", "/hello.txt"]', "-c", 'ENV A=1 B="two words"', "-c", "WORKDIR /w"]
    v("import", *change, str(rootfs), "changed:r")
    remote.direct("import", *change, str(rootfs), "changed:d")
    docker("import", *change, str(rootfs), "changed:k", check=True)
    configs = {v("inspect", "-f", "{{json .Config}}", f"changed:{t}").stdout for t in "rdk"}
    assert len(configs) == 1 and '"B=two words"' in configs.pop()  # -c means the same on every path
    assert v("tag", "imported:1", "again:2").returncode == 0
    assert "again" in docker("images", check=True).stdout.decode()
    assert v("rmi", "again:2").stdout == "Untagged: again:2\n"
    assert json.loads(v("image", "inspect", "imported:1").stdout)[0]["Id"] == image_id
    assert "Shared layers:" in v("system", "df").stdout
    assert "Server: vmvc" in v("version").stdout and "Containers: 2 (running 2" in v("info").stdout
    assert v("rm", "-f", "from-vmvc", "from-docker").returncode == 0


def test_fresh_daemon_shows_builtins_and_hides_build_steps(remote, tmp_path):
    listed = remote.docker("images", "--format", "{{.Repository}}", check=True).stdout.decode().split()
    assert sorted(listed) == ["busybox", "hello-world"]  # before any run
    remote.docker("tag", "busybox", "mybox:1", check=True)
    assert remote.docker("image", "inspect", "hello-world").returncode == 0
    ctx = tmp_path / "app"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text('FROM busybox\nRUN echo built > /b\nENV A=1\nCMD ["cat", "/b"]\n')
    built = remote.remote("build", "-q", "-t", "mine:1", str(ctx))
    assert built.returncode == 0 and built.stdout.startswith("sha256:"), built.stderr
    assert remote.remote("run", "--rm", "mine:1").stdout == "built\n"
    shown = remote.docker("images", "--format", "{{.Repository}}", check=True).stdout.decode().split()
    assert "<none>" not in shown  # the build's steps are hidden, as dockerd hides images with children
    every = remote.docker("images", "-a", "--format", "{{.Repository}}", check=True).stdout.decode().split()
    assert every.count("<none>") == 2
    assert "<none>" not in remote.remote("images").stdout
    assert remote.remote("images", "-a").stdout.count("<none>") == 4  # repository and tag columns
    failed = remote.remote("build", "-f", str(ctx / "Dockerfile"), str(tmp_path / "nosuch"))
    assert failed.returncode == 1 and "unable to prepare context" in failed.stderr


def test_bad_hosts_and_commands_without_an_api(remote, tmp_path):
    missing = f"unix://{tmp_path}/none.sock"
    r = remote.remote("ps", host=missing)
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == f"vmvc: Cannot connect to the vmvc daemon at {missing}. Is the daemon running? " \
                       "(vmvc daemon -H unix://PATH)\n"
    assert remote.remote("run", "--rm", "busybox", "true", host=missing).returncode == 125
    r = remote.remote("ps", host="tcp://127.0.0.1:2375")
    assert r.returncode == 125 and len(r.stderr.splitlines()) == 1 and "Unix socket" in r.stderr
    r = remote.remote("ps", host=str(remote.sock))  # a bare path is a Unix socket
    assert r.returncode == 0 and r.stdout.startswith("CONTAINER ID")
    for argv in (["save", "busybox"], ["image", "verify"], ["system", "stop"]):
        r = remote.remote(*argv)
        assert r.returncode == 125 and len(r.stderr.splitlines()) == 1 and "through a daemon" in r.stderr
    r = subprocess.run([VMVC, "-H", f"unix://{remote.sock}", "ps", "-q"], env=remote.env, capture_output=True,
                       text=True, timeout=60)
    assert (r.returncode, r.stdout) == (0, "")
    from tests.userview import as_user

    with as_user("nobody", [VMVC, "-H", f"unix://{remote.sock}", "ps"]) as argv:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60)  # the socket is root's
    assert r.returncode == 1 and r.stderr.startswith("vmvc: permission denied while trying to connect")


def test_the_direct_path_never_loads_the_client(remote):
    code = ("import sys; from runtime.cli.main import main; rc = main(['run', '--rm', 'busybox', 'true']); "
            "print(rc, sorted(m for m in sys.modules if 'api_client' in m or m == 'runtime.cli.remote'))")
    env = {k: v for k, v in remote.env.items() if k != "VMVC_HOST"}
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60,
                       cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert r.stdout == "0 []\n", r.stderr


@pytest.mark.registry
def test_pull_run_and_push_through_the_daemon_with_a_loopback_hub(tmp_path, hub, no_leaks):  # noqa: F811
    from tests.cli_remote.conftest import RemoteCLI
    from tests.daemon.conftest import DaemonProc

    conf = tmp_path / "daemon.json"
    conf.write_text(json.dumps({"hub": hub.url}))
    d = RemoteCLI(DaemonProc(tmp_path).start("--config-file", str(conf)))
    try:
        r = d.remote("pull", "busybox")
        assert (r.returncode, r.stdout) == (0, "docker.io/library/busybox:latest\n"), r.stderr
        assert r.stderr.startswith("Using default tag: latest\n") and "Digest: sha256:" in r.stderr
        assert f"Status: Downloaded newer image for busybox:latest (from {hub.url})" in r.stderr
        r = d.remote("run", "--rm", "hello-world")  # not local: the daemon pulls it from the hub
        assert r.returncode == 0 and "Hello from vmvc!" in r.stdout
        assert r.stderr.startswith("Unable to find image 'hello-world:latest' locally\n")
        ref = f"{hub.host}/class/bb:1"
        assert d.remote("tag", "busybox", ref).returncode == 0
        r = d.remote("push", ref)
        assert r.returncode == 0 and "1: digest: sha256:" in r.stdout, r.stderr
        r = d.remote("pull", f"{hub.host}/nosuch:1")
        assert r.returncode == 1 and r.stderr.splitlines()[-1].startswith("vmvc: ") and "nosuch" in r.stderr
    finally:
        d.stop()
        d.engine_stop()


def test_a_socket_that_is_no_daemon_gets_one_line(tmp_path):
    import socket
    import threading

    path = str(tmp_path / "fake.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(8)
    answers = [b"", b"\x00\xffnot http\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n{{{"]

    def serve():
        for answer in answers:
            conn, _ = server.accept()
            conn.recv(65536)
            conn.sendall(answer)
            conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        for words in ("closed the connection", "did not answer in HTTP", "with no JSON"):
            r = subprocess.run([VMVC, "-H", f"unix://{path}", "ps"], capture_output=True, text=True,
                               timeout=60)
            assert r.returncode == 1 and r.stdout == "" and len(r.stderr.splitlines()) == 1, r.stderr
            assert words in r.stderr
    finally:
        t.join(10)
        server.close()
