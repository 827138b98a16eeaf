"""Security fixes proven on the real kernel: host devices, mount-target escapes, orphans, errors."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.containers.conftest import REAL

pytestmark = REAL


@pytest.fixture
def host_loop(tmp_path):
    """A loop device over a temp file holding a known secret; detached afterwards."""
    img = tmp_path / "vmvc-disk.img"
    img.write_bytes(b"vmvc-host-secret-19" + b"\0" * (1 << 20))
    dev = subprocess.run(
        ["losetup", "-f", "--show", str(img)], capture_output=True, text=True, check=True, timeout=120
    ).stdout.strip()
    try:
        st = os.stat(dev)
        yield dev, os.major(st.st_rdev), os.minor(st.st_rdev), img
    finally:
        subprocess.run(["losetup", "-d", dev], check=False, timeout=120)


def test_a_host_block_device_made_with_mknod_cannot_be_opened(run, host_loop):
    dev, major, minor, img = host_loop
    r = run("sh", "-c", f"mknod /d b {major} {minor} && head -c 19 /d; echo rc=$?")
    assert b"vmvc-host-secret" not in r.stdout
    assert b"Operation not permitted" in r.stderr
    assert b"rc=1" in r.stdout
    r = run("sh", "-c", f"mknod /d b {major} {minor} && echo XXXX | dd of=/d conv=notrunc; echo rc=$?")
    assert b"Operation not permitted" in r.stderr
    assert img.read_bytes()[:19] == b"vmvc-host-secret-19"  # the host file is unchanged


def test_the_default_devices_still_work(run):
    r = run(
        "sh",
        "-c",
        "echo hi > /dev/null && head -c 4 /dev/zero | wc -c && head -c 4 /dev/urandom | wc -c"
        " && exec 3<>/dev/ptmx && echo ptmx-ok",
    )
    assert r.exit_code == 0, r.stderr
    assert r.stdout.split() == [b"4", b"4", b"ptmx-ok"]


# -- 2. mount targets resolve inside the rootfs -------------------------------------------------------
def _vmvc(*args):
    import sys

    return subprocess.run(
        [sys.executable, "-m", "runtime.cli.main", *args], capture_output=True, text=True, timeout=60
    )


def _symlink_image(tmp_path, link_to: str, **more: str) -> str:
    """A one-layer image: a static busybox, ``/vol -> link_to`` (an absolute symlink) and ``more``."""
    import io
    import shutil
    import tarfile

    from runtime.images import open_store

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(shutil.which("busybox"), "bin/busybox")
        for name, target in (("bin/sh", "busybox"), ("vol", link_to), *more.items()):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    buf.seek(0)
    open_store().import_tar(buf, "vmvc-symlinked:latest")
    return "vmvc-symlinked"


def test_an_image_symlink_cannot_send_a_bind_target_to_the_host(run, tmp_path):
    outside = tmp_path / "x"  # /vol in the image points to outside/target, an absolute path
    (outside / "target").mkdir(parents=True)  # it exists on the host too
    hostfile = tmp_path / "vmvc-hostfile"
    hostfile.write_text("bound\n")
    image = _symlink_image(tmp_path, f"{outside}/target")
    r = run(
        "/bin/busybox", "cat", f"{outside}/target/sub/x", image=image, volumes=[(str(hostfile), "/vol/sub/x")]
    )
    assert (r.exit_code, r.stdout) == (0, b"bound\n"), r.stderr  # bound where the symlink leads, in-root
    assert os.listdir(outside / "target") == []  # and nothing was made on the host
    r = run("/bin/busybox", "ls", "/vol/sub", image=image, volumes=[(str(tmp_path), "/vol/sub/d")])
    assert r.exit_code == 0 and os.listdir(outside / "target") == []


def test_image_symlinks_at_proc_dev_sys_do_not_lead_the_system_mounts_out(run, tmp_path):
    outside = tmp_path / "sys-outside"
    outside.mkdir()
    links = {name: f"{outside}/{name}" for name in ("proc", "dev", "sys")}
    image = _symlink_image(tmp_path, "/nowhere", **links)
    r = run("/bin/busybox", "sh", "-c", "echo $$; head -c 3 /dev/zero | /bin/busybox wc -c", image=image)
    assert (r.exit_code, r.stdout.split()) == (0, [b"1", b"3"]), r.stderr
    assert os.listdir(outside) == []


@pytest.mark.parametrize(
    "volume, message",
    [
        ("/tmp:/", "destination can't be '/'"),
        ("/tmp:/../../../../tmp/vmvc-escape/dd", "destination may not contain '..'"),
        ("/tmp:/a/../../vmvc-escape", "destination may not contain '..'"),
    ],
)
def test_bad_bind_destinations_are_refused_with_one_line(engine, volume, message):
    r = _vmvc("run", "--rm", "-v", volume, "busybox", "true")
    assert r.returncode == 125
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not os.path.exists("/tmp/vmvc-escape")
    assert engine.list(all=True) == []


def test_container_paths_are_cleaned():
    from runtime.containers.spec import Spec

    spec = Spec("busybox", ["true"], volumes=[("/srv", "//data/./x/")])
    assert spec.volumes[0].container == "/data/x"


@pytest.mark.parametrize("kernel", [True, False], ids=["openat2", "walk"])
def test_open_in_root_never_leaves_the_root(tmp_path, monkeypatch, kernel):
    from runtime.containers import mounts

    if not kernel:
        monkeypatch.setattr(mounts, "_kernel_resolve", lambda root_fd, path: None)
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "etc").mkdir(parents=True)
    outside.mkdir()
    (root / "abs").symlink_to(str(outside))
    (root / "rel").symlink_to("../../outside")
    (root / "loop").symlink_to("loop")
    for path, kind, made in [
        ("/abs/sub/f", "file", root / outside.relative_to("/") / "sub/f"),
        ("/rel/d", "dir", root / "outside/d"),
        ("/../../../outside/e", "dir", root / "outside/e"),
        ("/etc", "dir", root / "etc"),
    ]:
        fd = mounts.open_in_root(str(root), path, create=kind)
        try:
            assert os.readlink(f"/proc/self/fd/{fd}") == str(made)
        finally:
            os.close(fd)
    assert os.listdir(outside) == []
    with pytest.raises(OSError):
        mounts.open_in_root(str(root), "/loop/x", create="dir")
    with pytest.raises(FileNotFoundError):
        mounts.open_in_root(str(root), "/missing")


# -- 3. a container with -u outlives its spawner like any other; with -t it dies with it ------------
def test_a_container_run_as_another_user_is_adopted_and_a_tty_one_dies_with_its_spawner(engine):
    import signal

    from runtime.cgroups import manager
    from runtime.containers import Engine, Spec
    from tests.containers.test_churn_crash import _gone

    cid = engine.create(Spec("busybox", ["sleep", "60"], user="1000"))
    engine.start(cid)
    term = engine.create(Spec("busybox", ["sleep", "60"], user="1000", tty=True))
    engine.start(term)
    pid, tty_pid = (engine.inspect(c)["State"]["Pid"] for c in (cid, term))
    for p in (pid, tty_pid):
        with open(f"/proc/{p}/status") as f:
            assert "Uid:\t1000\t" in f.read()  # setuid happened (it clears the parent-death signal)
    cgroups = [engine.inspect(c)["Vmvc"]["Cgroup"] for c in (cid, term)]
    spawner = engine.spawner.request({"op": "ping"})["pid"]
    os.kill(spawner, signal.SIGKILL)
    assert _gone(spawner)
    assert _gone(tty_pid)  # -t: the death signal was set again after setuid, so it is not left running
    assert not _gone(pid, timeout=0.2)  # live restore: the rest outlive it...
    fresh = Engine()
    assert fresh.inspect(cid)["State"]["Running"]  # ...and are adopted
    assert fresh.inspect(term)["State"]["Status"] == "exited"
    fresh.remove(cid, force=True)
    fresh.remove(term)
    fresh.shutdown()
    assert not any(manager().exists(c) for c in cgroups)


# -- 4. errors after pivot_root carry a message ---------------------------------------------------------
def test_errors_after_pivot_root_are_one_line_start_errors(monkeypatch):
    import errno

    from runtime.containers import init
    from runtime.linux.fake import FakeSyscalls

    def broken(*a):
        raise OSError(errno.EBADF, "Bad file descriptor")

    cfg = {"process": {"args": ["true"], "env": [], "cwd": "/", "user": ""}}
    monkeypatch.setattr(init, "stdio", broken)
    with pytest.raises(init.StartError) as e:
        init.io_and_exec(FakeSyscalls(), None, cfg, None, 1, 2, prepared=True)
    assert e.value.code == 125 and str(e.value).startswith("container init failed: setting up stdio:")
    monkeypatch.setattr(init, "stdio", lambda *a: None)
    monkeypatch.setattr(init.os, "setgroups", broken)
    with pytest.raises(init.StartError) as e:
        init.io_and_exec(FakeSyscalls(), None, cfg, None, 1, 2, prepared=True)
    assert str(e.value).startswith("container init failed: setting user 0:0:")


def test_the_death_signal_is_set_again_right_before_exec(monkeypatch):
    from runtime.containers import init
    from runtime.linux.fake import FakeSyscalls
    from runtime.linux.syscalls import PR_SET_PDEATHSIG

    fake = FakeSyscalls()
    for name in ("setgroups", "setgid", "setuid", "chdir"):
        monkeypatch.setattr(init.os, name, lambda *a: None)
    monkeypatch.setattr(init.os, "makedirs", lambda *a, **k: None)
    monkeypatch.setattr(init.signal, "signal", lambda *a: None)

    def execvpe(*a):
        fake.calls.append(("execve",))
        raise FileNotFoundError

    monkeypatch.setattr(init.os, "execvpe", execvpe)
    with pytest.raises(init.StartError):
        init.finish_and_exec(fake, {"args": ["x"], "env": [], "cwd": "/", "user": "1000"}, prepared=True)
    assert fake.calls[-2:] == [("prctl", PR_SET_PDEATHSIG, 9, 0, 0, 0), ("execve",)]
    fake.calls.clear()  # a container that outlives the spawner (live restore) drops it instead
    with pytest.raises(init.StartError):
        init.finish_and_exec(fake, {"args": ["x"], "env": [], "cwd": "/", "user": "1000"}, prepared=True,
                             survive=True)
    assert fake.calls[-2:] == [("prctl", PR_SET_PDEATHSIG, 0, 0, 0, 0), ("execve",)]


# -- 6. docker's flag semantics ------------------------------------------------------------------------
def test_env_without_a_value_comes_from_the_caller(engine, monkeypatch):
    from runtime.containers.spec import Spec

    monkeypatch.setenv("VMVC_FROM_CALLER", "caller value")
    monkeypatch.delenv("VMVC_UNSET", raising=False)
    spec = Spec("busybox", env=["VMVC_FROM_CALLER", "A=1", "VMVC_UNSET"])
    assert spec.env == ["VMVC_FROM_CALLER=caller value", "A=1"]
    r = _vmvc(
        "run", "--rm", "-e", "VMVC_FROM_CALLER", "-e", "VMVC_UNSET", "busybox", "sh", "-c",
        'echo "$VMVC_FROM_CALLER"; echo "${VMVC_UNSET-unset}"',
    )  # fmt: skip
    assert (r.returncode, r.stdout) == (0, "caller value\nunset\n"), r.stderr


@pytest.mark.parametrize(
    "flags, message",
    [
        (["-w", "relative"], "the working directory 'relative' is invalid, it needs to be an absolute path"),
        (
            ["--cpus", "1000"],
            f"range of CPUs is from 0.01 to {len(os.sched_getaffinity(0))}.00, as there are only",
        ),
    ],
)
def test_bad_workdir_and_too_many_cpus_are_one_line_125(engine, flags, message):
    r = _vmvc("run", "--rm", *flags, "busybox", "true")
    assert r.returncode == 125 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert engine.list(all=True) == []


def test_memory_0_means_unlimited(engine):
    from runtime.containers.spec import Spec

    assert Spec("busybox", memory=0).memory is None
    r = _vmvc("run", "--rm", "-m", "0", "busybox", "true")  # was "Minimum memory limit allowed is 6MB"
    assert (r.returncode, r.stderr) == (0, "")
