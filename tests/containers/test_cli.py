"""The ``vmvc`` container commands as a user runs them: output, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys

import pytest

from tests.containers.conftest import REAL

pytestmark = REAL


@pytest.fixture
def vmvc(engine):
    """Run ``vmvc ARGS`` in a subprocess on the test's state root; returns CompletedProcess."""

    def _vmvc(*args, input=None, timeout=60):
        return subprocess.run(
            [sys.executable, "-m", "runtime.cli.main", *args],
            capture_output=True,
            text=True,
            input=input,
            timeout=timeout,
            env=os.environ.copy(),
        )

    return _vmvc


def _nothing_created(engine):
    assert engine.list(all=True) == []
    names = engine.table.names_dir
    assert not os.path.isdir(names) or os.listdir(names) == []


def test_run_prints_output_and_returns_the_exit_code(vmvc, engine):
    r = vmvc("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 5")
    assert (r.returncode, r.stdout, r.stderr) == (5, "out\n", "err\n")
    _nothing_created(engine)


@pytest.mark.parametrize(
    "args,code,message",
    [
        (["run", "--rm", "nosuchimage", "true"], 125, "No such image: nosuchimage:latest"),
        (["run", "--rm", "--bogus", "busybox", "true"], 125, "unknown flag: --bogus"),
        (["run", "--rm", "-x", "busybox", "true"], 125, "unknown shorthand flag: 'x' in -x"),
        (["run", "--rm", "--pids-limit", "many", "busybox", "true"], 125, "--pids-limit"),
        (["run", "--rm"], 125, '"run" requires at least 1 argument'),
        (["run", "--rm", "-m", "12x", "busybox", "true"], 125, "invalid size: '12x'"),
        (["run", "--rm", "--cpus", "half", "busybox", "true"], 125, "--cpus"),
        (["run", "--rm", "--network", "bridge7", "busybox", "true"], 125, "invalid network mode"),
        (
            ["run", "--rm", "busybox", "nosuchcmd"],
            127,
            'exec: "nosuchcmd": executable file not found in $PATH',
        ),
        (["run", "--rm", "busybox", "/etc/passwd"], 126, "permission denied"),
        (
            ["run", "--rm", "-v", "/no/such/vmvc:/x", "busybox", "true"],
            125,
            "bind source path does not exist",
        ),
    ],
)
def test_bad_input_is_one_line_a_docker_code_and_nothing_created(vmvc, engine, args, code, message):
    r = vmvc(*args)
    assert r.returncode == code
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) <= 2  # one line (argparse adds "See 'vmvc run --help'.")
    _nothing_created(engine)


def test_missing_command_in_the_image(vmvc, engine, vmvc_root):
    from runtime.images import open_store

    store = open_store()
    busybox = store.resolve("busybox")
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("file")
        tar.addfile(info, io.BytesIO(b""))
    buf.seek(0)
    nocmd = store.import_tar(buf, "nocmd:latest")
    assert busybox.config.get("Cmd") and not nocmd.config.get("Cmd")  # what the run below relies on
    r = vmvc("run", "--rm", "nocmd")
    assert r.returncode == 125 and "no command specified" in r.stderr
    _nothing_created(engine)


def test_name_clash(vmvc, engine):
    assert vmvc("create", "--name", "dup", "busybox", "true").returncode == 0
    r = vmvc("create", "--name", "dup", "busybox", "true")
    assert r.returncode == 125 and 'The container name "/dup" is already in use' in r.stderr
    assert len(engine.list(all=True)) == 1
    assert vmvc("rm", "dup").returncode == 0


def test_detached_container_lifecycle_through_the_cli(vmvc, engine):
    cid = vmvc(
        "run", "-d", "--name", "web", "-e", "X=1", "busybox", "sh", "-c", "echo hello; sleep 60"
    ).stdout.strip()
    assert len(cid) == 64
    ps = vmvc("ps").stdout
    assert "web" in ps and cid[:12] in ps and "Up" in ps
    data = json.loads(vmvc("ps", "--json").stdout)
    assert data[0]["Id"] == cid and data[0]["State"] == "running"
    assert vmvc("exec", "web", "sh", "-c", "echo $X").stdout == "1\n"
    assert vmvc("exec", "web", "sh", "-c", "exit 9").returncode == 9
    assert vmvc("inspect", "-f", "{{.State.Status}} {{.Config.Tty}}", "web").stdout == "running false\n"
    stats = json.loads(vmvc("stats", "--no-stream", "--json", "web").stdout)
    assert stats[0]["pids"] >= 1
    r = vmvc("rm", "web")
    assert r.returncode == 1 and "container is running" in r.stderr
    assert vmvc("kill", "-s", "KILL", "web").returncode == 0
    assert vmvc("wait", "web").stdout == "137\n"
    assert "Exited (137)" in vmvc("ps", "-a").stdout
    assert vmvc("logs", "web").stdout == "hello\n"
    assert vmvc("logs", "-t", "web").stdout.split(" ", 1)[1] == "hello\n"
    assert vmvc("stop", "web").returncode == 0  # stopping a stopped container is fine
    assert vmvc("rm", "web").returncode == 0
    assert vmvc("ps", "-a", "-q").stdout == ""
    r = vmvc("inspect", "web")
    assert r.returncode == 1 and "No such object: web" in r.stderr
    image = json.loads(vmvc("inspect", "busybox").stdout)  # like docker: containers first, then images
    assert image[0]["Id"].startswith("sha256:")


def test_interactive_stdin(vmvc):
    r = vmvc("run", "--rm", "-i", "busybox", "sh", "-c", "tr a-z A-Z", input="shout\n")
    assert (r.returncode, r.stdout) == (0, "SHOUT\n")


def test_container_group(vmvc):
    assert vmvc("container", "ls", "-a").returncode == 0
    assert vmvc("container", "run", "--rm", "busybox", "true").returncode == 0
    assert vmvc("container", "prune").returncode == 0


def test_ctrl_c_is_forwarded_and_nothing_is_left(engine):
    import signal

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runtime.cli.main",
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "trap 'echo got-int; exit 130' INT; echo ready; while :; do sleep 0.1; done",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=os.environ.copy(),
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready and proc.stdout.readline() == b"ready\n"
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    assert proc.returncode == 130 and out == b"got-int\n"
    _nothing_created(engine)
