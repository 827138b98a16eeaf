"""The daemon front end's last gaps (issue 14): ``--log-opt`` through ``HostConfig.LogConfig``,
``run --trace`` through the daemon, ``vmvc events``, and the direct ``vmvc images`` hiding a build's
steps as dockerd does. Real daemon, real docker CLI, real containers."""

from __future__ import annotations

import glob
import json
import os
import re
import subprocess
import time

import pytest

from tests.daemon.conftest import REAL_PARTS, VMVC

pytestmark = [*REAL_PARTS, pytest.mark.docker_cli]

LOOP = 'i=0; while [ $i -lt 300 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done'


def _log_files(root: str, cid: str) -> list[str]:
    return sorted(glob.glob(os.path.join(root, "containers", cid, f"{cid}-json.log*")))


def test_log_opt_rotates_through_the_daemon(remote):
    d = remote.docker
    cid = d("run", "-d", "--log-opt", "max-size=1k", "--log-opt", "max-file=2", "busybox", "sh", "-c", LOOP,
            check=True).stdout.decode().strip()
    assert d("wait", cid, check=True).stdout == b"0\n"
    files = _log_files(remote.root, cid)
    assert len(files) == 2 and all(os.path.getsize(f) <= 1024 + 200 for f in files), files  # rotated
    logs = d("logs", cid, check=True).stdout.decode().splitlines()
    assert logs[-1].startswith("line-299-") and len(logs) < 100  # the oldest lines were rotated away
    # vmvc's own client sends the same LogConfig; the attached output is whole (rotation is the file's)
    r = remote.remote("run", "--log-opt", "max-size=1k", "--log-opt", "max-file=1", "--name", "mine",
                      "busybox", "sh", "-c", LOOP)
    assert (r.returncode, len(r.stdout.splitlines())) == (0, 300), r.stderr
    mine = json.loads(remote.remote("inspect", "mine").stdout)[0]["Id"]
    files = _log_files(remote.root, mine)
    assert len(files) == 1 and os.path.getsize(files[0]) <= 1024 + 200
    # what json-file does not know: docker's exit code, one line, nothing created
    for argv, said in ((["--log-driver", "syslog"], "no log driver named 'syslog'"),
                       (["--log-opt", "max-size=zz"], "invalid max-size 'zz'"),
                       (["--log-opt", "colour=red"], "colour")):
        r = d("run", "--rm", *argv, "busybox", "true")
        assert r.returncode == 125 and said in r.stderr.decode(), r.stderr
    r = remote.remote("run", "--rm", "--log-opt", "max-file=0", "busybox", "true")
    assert r.returncode == 125 and "invalid max-file" in r.stderr and len(r.stderr.splitlines()) == 1
    assert sorted(d("ps", "-aq", "--no-trunc").stdout.decode().split()) == sorted([cid, mine])


def test_run_trace_through_the_daemon(remote):
    from runtime.containers.trace import STEPS

    r = remote.remote("run", "--rm", "--trace", "busybox", "echo", "hi")
    assert (r.returncode, r.stdout) == (0, "hi\n"), r.stderr
    rows = [ln.split() for ln in r.stderr.splitlines()]
    assert rows[0] == ["step", "ms", "+ms"]
    steps = [row[0] for row in rows[1:]]
    assert steps[0] == "client" and steps[-1] == "reap" and "exec" in steps and set(steps) <= set(STEPS)
    direct = remote.direct("run", "--rm", "--trace", "busybox", "echo", "hi")
    assert direct.stderr.splitlines()[0] == r.stderr.splitlines()[0]  # the same printer
    assert remote.remote("run", "--rm", "busybox", "true").stderr == ""  # only when asked
    remote.docker("run", "--name", "kept", "busybox", "true", check=True)
    trace = json.loads(remote.docker("inspect", "kept", check=True).stdout)[0]["Trace"]
    assert [s for s, _ in trace][-1] == "reap"  # vmvc's own key in the daemon's inspect JSON


def test_events_through_the_daemon_match_docker_events(remote):
    r = remote.direct("events")
    assert r.returncode == 1 and len(r.stderr.splitlines()) == 1 and "vmvc daemon" in r.stderr
    env = {**remote.env, "VMVC_HOST": f"unix://{remote.sock}"}
    with subprocess.Popen([VMVC, "events", "--filter", "container=ev1"], env=env, stdout=subprocess.PIPE,
                          text=True) as follow:
        try:
            time.sleep(0.5)  # subscribed (events before it are not streamed without --since)
            since = str(int(time.time()) - 60)
            assert remote.remote("run", "--rm", "--name", "ev1", "busybox", "true").returncode == 0
            remote.remote("run", "--rm", "--name", "other", "busybox", "true")
            seen = []
            while not seen or " destroy " not in seen[-1]:
                seen.append(follow.stdout.readline().rstrip("\n"))
                assert seen[-1], seen  # the stream ended early
        finally:
            follow.terminate()
    assert [ln.split()[2] for ln in seen] == ["create", "start", "die", "destroy"]
    shape = r"\S+T\S+\.\d{9}(Z|[+-]\d\d:\d\d) container \w+ [0-9a-f]{64} \(.*name=ev1.*\)"
    assert all(re.fullmatch(shape, ln) for ln in seen), seen
    until = str(int(time.time()) + 1)  # after the destroy
    window = ("--since", since, "--until", until, "--filter", "container=ev1")
    ours = remote.remote("events", *window)
    theirs = remote.docker("events", *window, check=True).stdout.decode()
    assert ours.returncode == 0 and ours.stdout == theirs and ours.stdout.splitlines() == seen
    as_json = remote.remote("events", *window, "--format", "{{json .}}").stdout.splitlines()
    assert [json.loads(x)["Action"] for x in as_json] == ["create", "start", "die", "destroy"]
    for bad in (["--filter", "nonsense"], ["--until", "yesterday-ish"], ["--format", "{{.ID}}"]):
        r = remote.remote("events", *bad)
        assert r.returncode == 125 and len(r.stderr.splitlines()) == 1, (bad, r.stderr)


def test_direct_images_hide_build_steps_as_the_daemon_does(remote, tmp_path):
    ctx = tmp_path / "app"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text('FROM busybox\nRUN echo built > /b\nENV A=1\nCMD ["cat", "/b"]\n')
    built = remote.direct("build", "-q", "-t", "mine:1", str(ctx))
    assert built.returncode == 0, built.stderr
    assert "<none>" not in remote.direct("images").stdout
    assert remote.direct("images", "-a").stdout.count("<none>") == 4  # two steps, repository and tag
    for flags in ((), ("-a",)):
        through = remote.remote("images", "-q", *flags).stdout.split()  # the daemon makes its built-ins
        direct = remote.direct("images", "-q", *flags).stdout.split()
        assert sorted(direct) == sorted(through)
        theirs = remote.docker("images", "-q", *flags, check=True).stdout.decode().split()
        assert sorted(direct) == sorted(theirs)
