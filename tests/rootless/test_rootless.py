"""Rootless mode (issue 10): a user without root runs containers, and can do nothing more than before.

Everything goes through the real CLI as a throwaway user (``conftest.user``; the checkout's own
launcher, through a read-only view of the checkout when CI cloned it where other users cannot
enter, see ``conftest``): its spawner starts in a user namespace mapped onto its uid and its
subordinate range, with overlayfs, ``/proc``, ``/sys`` and bind-mounted ``/dev`` nodes inside; limits
fail with one line; seccomp, the capability bounding set and ``no_new_privs`` still hold.
"""

from __future__ import annotations

import json
import os
import tempfile

import pytest

pytestmark = [pytest.mark.root, pytest.mark.rootless]  # root only to make the throwaway user

DOCKER_DEFAULT_CAPS = 0x00000000A80425FB  # Docker's 14 default capabilities


def test_run_as_a_user_is_root_inside_and_keeps_state_in_its_home(user, no_leaks):
    r = user.run("run", "--rm", "busybox", "id")
    assert (r.returncode, r.stdout) == (0, "uid=0(root) gid=0(root) groups=0(root)\n"), r.stderr
    r = user.run("run", "--rm", "busybox", "echo", "hi")
    assert (r.returncode, r.stdout, r.stderr) == (0, "hi\n", "")
    r = user.run("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 7")
    assert (r.returncode, r.stdout, r.stderr) == (7, "out\n", "err\n")
    st = os.stat(user.state_root)
    assert (st.st_uid, st.st_mode & 0o777) == (user.uid, 0o710)
    # the subordinate range is mapped: another uid inside is another host uid, owning what it makes
    r = user.run("run", "--rm", "-u", "1000:1000", "busybox", "sh", "-c",
                 "id -u; touch /tmp/f; stat -c %u /tmp/f")
    assert (r.returncode, r.stdout) == (0, "1000\n1000\n"), r.stderr


def test_detached_logs_stop_rm_and_ps(user, no_leaks):
    r = user.run("run", "-d", "--name", "web", "busybox", "sh", "-c", "echo started; exec sleep 300")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    ps = user.run("ps")
    assert ps.returncode == 0 and "web" in ps.stdout and cid[:12] in ps.stdout
    logs = user.run("logs", "web")
    while logs.stdout == "":  # the first line may still be on its way (a guard below bounds this)
        logs = user.run("logs", "web")
    assert logs.stdout == "started\n"
    ex = user.run("exec", "web", "cat", "/proc/1/cmdline")
    assert (ex.returncode, ex.stdout) == (0, "sleep\x00300\x00"), ex.stderr
    pid = json.loads(user.run("inspect", "web").stdout)[0]["State"]["Pid"]
    with open(f"/proc/{pid}/cmdline") as f:  # the pid as the host sees it
        assert f.read() == "sleep\x00300\x00"
    assert user.run("stop", "-t", "0", "web").returncode == 0
    assert user.run("rm", "web").returncode == 0
    assert user.run("ps", "-a", "-q").stdout == ""
    assert not [n for n in os.listdir(os.path.join(user.state_root, "containers")) if n.startswith(".rm-")]


@pytest.mark.parametrize("flags", [["--memory", "10m"], ["--pids-limit", "20"], ["--cpus", "0.5"]])
def test_limits_fail_with_one_line(user, no_leaks, flags):
    r = user.run("run", "--rm", *flags, "busybox", "true")
    assert r.returncode == 125 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and "rootless mode" in r.stderr and flags[0] in r.stderr
    assert user.run("ps", "-a", "-q").stdout == ""  # nothing was created


def test_a_container_cannot_do_what_its_user_cannot(user, no_leaks):
    root_only = os.path.join(user.home, "root-owned")  # the user reaches it, but it is root's (0755)
    os.mkdir(root_only, 0o755)
    r = user.run("run", "--rm", "-v", f"{root_only}:/mnt", "-v", "/etc:/hostetc", "busybox", "sh", "-c",
                 "touch /mnt/x; touch /hostetc/vmvc-rootless; cat /hostetc/shadow; echo done")
    assert r.stdout == "done\n", r.stderr
    assert r.stderr.count("Permission denied") == 3, r.stderr
    assert not os.path.exists(os.path.join(root_only, "x")) and not os.path.exists("/etc/vmvc-rootless")
    # a bind source the user cannot reach is not reachable for its containers either
    hidden = tempfile.mkdtemp(prefix="vmvc-rootless-hidden-")  # in the run's root-only temp dir
    r = user.run("run", "--rm", "-v", f"{hidden}:/mnt", "busybox", "true")
    assert r.returncode == 125 and "bind source path does not exist" in r.stderr, r.stderr
    os.rmdir(hidden)
    # the usual confinement still applies inside the user namespace
    r = user.run("run", "--rm", "busybox", "sh", "-c",
                 "grep -E '^(Seccomp|NoNewPrivs|CapBnd):' /proc/self/status; unshare -U true; mknod /x c 1 3")
    fields = dict(line.split(":\t") for line in r.stdout.splitlines())
    assert fields["Seccomp"] == "2" and fields["NoNewPrivs"] == "1"
    assert int(fields["CapBnd"], 16) == DOCKER_DEFAULT_CAPS
    assert "unshare" in r.stderr and "mknod" in r.stderr and r.returncode != 0


def test_network_host_fails_with_one_line(user, no_leaks):
    r = user.run("run", "--rm", "--network", "host", "busybox", "true")
    assert r.returncode == 125 and len(r.stderr.strip().splitlines()) == 1 and "rootless" in r.stderr


def test_doctor_as_the_user_says_yes_with_evidence(user):
    """The rootless row, and the namespace and overlay rows: for a user they say what it gets in a
    user namespace of its own (what its containers use), not "missing" as if the kernel lacked them.
    The probes' temp dirs go too, overlayfs' mode-0 work dir included."""
    tmp = os.path.join(user.home, "tmp")  # the user's TMPDIR, its own
    r = user.run("doctor", "--json")
    assert r.returncode == 0, r.stderr
    assert os.listdir(tmp) == []
    rows = {c["name"]: c for c in json.loads(r.stdout)["checks"]}
    check = rows["rootless"]
    assert check["verdict"] in ("ready", "degraded") and check["evidence"].startswith("yes")
    assert f"for {user.name}" in check["evidence"] and "subuid" in check["evidence"]
    assert check["data"]["tried"] == "ok"
    assert rows["root"]["verdict"] == "missing"
    for kind in ("mnt", "uts", "ipc", "pid", "net", "cgroup", "user"):
        row = rows[f"ns.{kind}"]  # a real uid, not the overflow id: the maps were written for it
        assert row["verdict"] == "ready" and f"as uid {user.uid}" in row["evidence"], row
    assert rows["overlayfs"]["verdict"] == "ready", rows["overlayfs"]
    assert "in its own user namespace" in rows["overlayfs"]["evidence"]


def test_without_a_subordinate_range_only_its_own_id_is_mapped(user, no_leaks):
    from tests.rootless.conftest import _subid_lines, set_subid_lines

    saved = _subid_lines(user.name)
    set_subid_lines(user.name, {})
    env = user.env(VMVC_ROOT=os.path.join(user.home, "single"))
    try:
        r = user.run("run", "--rm", "busybox", "sh", "-c", "id; ls -ln /etc/passwd", env=env)
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("uid=0(root) gid=0(root)")
        with open(os.path.join(user.home, "single", "containers", "spawner.log")) as f:
            assert "only uid 0" in f.read()  # and it says so
        r = user.run("run", "--rm", "-u", "1000", "busybox", "true", env=env)
        assert r.returncode != 0 and len(r.stderr.strip().splitlines()) == 1
    finally:
        user.run("system", "stop", env=env)
        set_subid_lines(user.name, saved)


def _layer(entries: list[tuple[str, bytes | None]]) -> bytes:
    """A layer tar: ``(name, content)`` files, ``(name/, None)`` directories."""
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in entries:
            info = tarfile.TarInfo(name.rstrip("/"))
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(info)
            else:
                info.size, info.mode = len(data), 0o755
                tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_an_image_loaded_by_the_user_keeps_its_whiteouts(user, no_leaks):
    """Layers a user loads are extracted by that user, outside any namespace: whiteouts and opaque
    directories must still hide what the layers below have (overlayfs' ``user.`` xattrs)."""
    import hashlib
    import io
    import shutil
    import tarfile

    from runtime.images.builtin import host_busybox

    with open(host_busybox(), "rb") as f:
        busybox = f.read()
    lower = _layer([("bin/", None), ("bin/busybox", busybox), ("a", b"a"), ("d/", None), ("d/x", b"x")])
    upper = _layer([(".wh.a", b""), ("d/", None), ("d/.wh..wh..opq", b""), ("d/y", b"y")])
    config = {"architecture": "amd64", "os": "linux",
              "config": {"Cmd": ["/bin/busybox", "sh", "-c", "/bin/busybox ls -a /d; /bin/busybox ls /"]},
              "rootfs": {"type": "layers",
                         "diff_ids": [f"sha256:{hashlib.sha256(x).hexdigest()}" for x in (lower, upper)]}}
    files = {"l1.tar": lower, "l2.tar": upper, "config.json": json.dumps(config).encode(),
             "manifest.json": json.dumps([{"Config": "config.json", "RepoTags": ["wh:1"],
                                           "Layers": ["l1.tar", "l2.tar"]}]).encode()}
    archive = os.path.join(user.home, "tmp", "wh.tar")
    with tarfile.open(archive, "w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    shutil.chown(archive, user.uid, user.gid)
    r = user.run("load", "-i", archive)
    assert r.returncode == 0, r.stderr
    r = user.run("run", "--rm", "wh:1")
    assert r.returncode == 0, r.stderr
    listing = r.stdout.split()
    assert listing[:3] == [".", "..", "y"] and "a" not in listing[3:] and "d" in listing[3:], r.stdout
    assert user.run("rmi", "wh:1").returncode == 0


def test_build_as_the_user_keeps_deletions_and_unreadable_files(user, no_leaks):
    """``vmvc build``'s RUN steps run rootless (their own network, not the host's) and their layer is
    read in the user's namespace: a mode-0600 file of another uid is still packed, a deleted file and
    a replaced directory stay deleted and replaced."""
    app = os.path.join(user.home, "tmp", "app")
    os.mkdir(app)
    with open(os.path.join(app, "Dockerfile"), "w") as f:
        f.write("FROM busybox\n"
                "RUN echo s > /secret && chown 1234 /secret && chmod 600 /secret && rm /bin/ls"
                " && rm -rf /etc && mkdir /etc && echo only > /etc/only\n"
                'CMD ["sh", "-c", "cat /secret; test -e /bin/ls || echo no-ls; ls /etc"]\n')
    for p in (app, os.path.join(app, "Dockerfile")):
        os.chown(p, user.uid, user.gid)
    r = user.run("build", "-t", "built:1", app)
    assert r.returncode == 0, r.stderr
    r = user.run("run", "--rm", "built:1")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split()
    assert lines[:2] == ["s", "no-ls"] and "only" in lines and "passwd" not in lines, r.stdout
    assert user.run("rmi", "built:1").returncode == 0
