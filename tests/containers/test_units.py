"""Logic that needs no root: flag parsing, the process merge, json-file logs, frames, state, mount plan."""

from __future__ import annotations

import json

import pytest

from runtime.containers import init, logs, wire
from runtime.containers.mounts import Bind, Mknod, Mount, Move, Overlay
from runtime.containers.spec import Spec, Volume, parse_cpus, parse_memory, parse_volume, process
from runtime.containers.state import Containers
from runtime.errors import Conflict, NotFound, VmvcError
from runtime.linux.fake import FakeSyscalls


@pytest.mark.parametrize(
    "text,value",
    [
        ("64m", 64 << 20),
        ("1g", 1 << 30),
        ("512k", 512 << 10),
        ("1.5g", int(1.5 * (1 << 30))),
        ("100000000", 100000000),
        ("64MB", 64 << 20),
    ],
)
def test_parse_memory(text, value):
    assert parse_memory(text) == value


@pytest.mark.parametrize("text", ["", "12x", "m", "-5m", "lots"])
def test_parse_memory_rejects(text):
    with pytest.raises(VmvcError, match="invalid size"):
        parse_memory(text)


def test_memory_minimum_and_other_validation():
    with pytest.raises(VmvcError, match="Minimum memory"):
        Spec("busybox", memory=1 << 20)
    with pytest.raises(VmvcError, match="network"):
        Spec("busybox", network="bridge0")
    with pytest.raises(VmvcError, match="Invalid container name"):
        Spec("busybox", name="bad name")
    with pytest.raises(VmvcError):
        parse_cpus("half")
    with pytest.raises(VmvcError):
        parse_cpus("0")
    assert parse_cpus("0.5") == 0.5
    assert parse_volume("/a:/b:ro") == Volume("/a", "/b", True)
    with pytest.raises(VmvcError):
        parse_volume("/a")
    with pytest.raises(VmvcError):
        Spec("busybox", volumes=[Volume("rel", "/b")])


def test_spec_round_trips():
    s = Spec("busybox", ["echo"], volumes=[Volume("/a", "/b", True)], memory=64 << 20)
    assert Spec.from_dict(json.loads(json.dumps(s.to_dict()))) == s


def test_process_follows_dockers_entrypoint_and_cmd_rules():
    image = {
        "Entrypoint": ["/entry"],
        "Cmd": ["default"],
        "Env": ["PATH=/bin", "A=1"],
        "WorkingDir": "/app",
        "User": "app",
    }
    assert process(Spec("i"), image)["args"] == ["/entry", "default"]
    assert process(Spec("i", ["x"]), image)["args"] == ["/entry", "x"]
    assert process(Spec("i", entrypoint=["/other"]), image)["args"] == ["/other"]
    p = process(Spec("i", ["x"], env=["A=2", "B=3"], workdir="/w", user="root"), image)
    assert p["env"] == ["PATH=/bin", "A=2", "B=3"] and p["cwd"] == "/w" and p["user"] == "root"
    assert process(Spec("i", ["x"]), {})["cwd"] == "/"
    with pytest.raises(VmvcError, match="no command specified"):
        process(Spec("i"), {"Env": []})


def test_log_writer_splits_lines_and_keeps_partials(tmp_path):
    path = str(tmp_path / "c-json.log")
    w = logs.LogWriter(path)
    w.write("stdout", b"one\ntw")
    w.write("stderr", b"err\n")
    w.write("stdout", b"o\nthree")
    w.close()
    entries = logs.read(path)
    assert [(e["stream"], e["log"]) for e in entries] == [
        ("stdout", "one\n"),
        ("stderr", "err\n"),
        ("stdout", "two\n"),
        ("stdout", "three"),
    ]
    assert [e["log"] for e in logs.read(path, tail=1)] == ["three"]
    assert logs.read(path, tail=0) == []
    assert logs.format_entry(entries[0], timestamps=True).startswith(entries[0]["time"].encode())
    assert logs.read(str(tmp_path / "none")) == []


def test_follow_stops_when_the_container_stops(tmp_path):
    path = str(tmp_path / "f.log")
    w = logs.LogWriter(path)
    w.write("stdout", b"a\n")
    states = iter([True, False])
    got = [e["log"] for e in logs.follow(path, lambda: next(states), poll=0.001)]
    assert got == ["a\n"]


def test_frames_decode_across_chunk_boundaries():
    data = wire.frame(wire.STDOUT, b"hello") + wire.message({"exit": 3}) + wire.frame(wire.STDIN, b"")
    d = wire.Decoder()
    out = []
    for i in range(len(data)):
        out += d.feed(data[i : i + 1])
    assert out == [(1, b"hello"), (wire.JSON, b'{"exit": 3}'), (0, b"")]


@pytest.mark.parametrize(
    "obj",
    [
        {"op": "run", "spec": {"cmd": ["sh", "-c", 'echo "é\\n"'], "env": [], "memory": None}, "v": 2},
        {"exit": 137, "oom_killed": True, "ratio": 0.5, "big": 10**30, "neg": -1.25e-7},
        [[], {}, "", "\u2603\x00\t", False],
        {"nan": float("inf")},
    ],
)
def test_wire_json_is_byte_for_byte_the_json_module(obj):
    import json

    assert wire.dumps(obj) == json.dumps(obj)
    assert json.dumps(wire.loads(json.dumps(obj).encode())) == json.dumps(obj)
    assert wire.loads(f" \n{json.dumps(obj)}\n") == json.loads(json.dumps(obj))


@pytest.mark.parametrize("text", ["", "{", '{"a": 1} x', "nul", "[1,]"])
def test_wire_json_refuses_malformed_input(text):
    with pytest.raises(ValueError):
        wire.loads(text)


def test_wire_json_refuses_what_json_cannot_encode():
    with pytest.raises(TypeError, match="not JSON serializable"):
        wire.dumps({"a": object()})


def test_names_are_unique_and_ids_resolve_by_prefix(tmp_path):
    t = Containers(tmp_path)
    t.reserve_name("web", "a" * 64)
    with pytest.raises(Conflict, match="already in use"):
        t.reserve_name("web", "b" * 64)
    for cid in ("a" * 64, "ab" + "c" * 62):
        (tmp_path / cid).mkdir()
    assert t.resolve("web") == "a" * 64
    assert t.resolve("abc") == "ab" + "c" * 62
    with pytest.raises(NotFound, match="Multiple"):
        t.resolve("a")
    with pytest.raises(NotFound):
        t.resolve("zzz")
    t.release_name("web", "b" * 64)  # not the owner: kept
    assert t.resolve("web") == "a" * 64
    t.release_name("web", "a" * 64)
    with pytest.raises(NotFound):
        t.resolve("web")


def test_cgroup_prefix_differs_per_root(tmp_path):
    a, b = Containers(tmp_path / "a"), Containers(tmp_path / "b")
    assert a.cgroup_prefix() != b.cgroup_prefix()
    assert a.cgroup_prefix().startswith("vmvc-")


def _cfg(tmp_path, **kw):
    return {
        "rootfs": str(tmp_path / "rootfs"),
        "upper": "/u",
        "work": "/w",
        "layers": ["/l1", "/l0"],
        "volumes": [],
        "hostname": "h",
        "network": "private",
        **kw,
    }


def test_system_mounts_are_dockers_in_order(tmp_path):
    base = str(tmp_path)
    steps = init.system_plan(base)
    mounts = [(s.fstype, s.target.removeprefix(base)) for s in steps if type(s) is Mount]
    assert mounts == [
        ("proc", "/proc"),
        ("tmpfs", "/dev"),
        ("devpts", "/dev/pts"),
        ("tmpfs", "/dev/shm"),
        ("sysfs", "/sys"),
    ]
    sysfs = next(s for s in steps if type(s) is Mount and s.fstype == "sysfs")
    assert sysfs.flags & 1  # MS_RDONLY
    devpts = next(s for s in steps if type(s) is Mount and s.fstype == "devpts")
    assert "newinstance" in devpts.data
    nodes = [s.path.rsplit("/", 1)[1] for s in steps if type(s) is Mknod]
    assert nodes == ["null", "zero", "full", "random", "urandom", "tty"]


def test_start_plan_mounts_the_image_then_moves_the_system_mounts_in(tmp_path):
    base = str(tmp_path)
    steps = init.plan(
        _cfg(tmp_path, volumes=[{"host": "/srv", "container": "/data", "readonly": True}]), base
    )
    assert steps[0] == Overlay(["/l1", "/l0"], "/u", "/w", f"{base}/root", throwaway=False)
    moves = [(s.source, s.target) for s in steps if type(s) is Move]
    assert moves == [(f"{base}/{d}", f"{base}/root/{d}") for d in ("proc", "dev", "sys")]
    assert steps[-1] == Bind("/srv", f"{base}/root/data", readonly=True)


def test_harden_masks_and_protects_dockers_paths(tmp_path):
    for d in ("proc/acpi", "proc/sys", "sys/firmware"):
        (tmp_path / d).mkdir(parents=True)
    for f in ("proc/kcore", "proc/sysrq-trigger"):
        (tmp_path / f).write_text("")
    fake = FakeSyscalls()
    init.harden(fake, str(tmp_path))
    calls = [(c[1], c[2], c[3]) for c in fake.calls]
    assert ("tmpfs", f"{tmp_path}/proc/acpi", "tmpfs") in calls
    assert ("tmpfs", f"{tmp_path}/sys/firmware", "tmpfs") in calls
    assert ("/dev/null", f"{tmp_path}/proc/kcore", None) in calls
    assert (f"{tmp_path}/proc/sys", f"{tmp_path}/proc/sys", None) in calls  # bind, then read-only remount
    assert sum(1 for c in fake.calls if c[2] == f"{tmp_path}/proc/sysrq-trigger") == 2


def test_rm_containers_get_a_volatile_overlay(tmp_path):
    fake = FakeSyscalls()
    init.mount_rootfs(fake, ["/l1", "/l0"], "/u", "/w", "/t", throwaway=True)
    assert fake.calls == [
        ("mount", "overlay", "/t", "overlay", 0, "lowerdir=/l1:/l0,upperdir=/u,workdir=/w,volatile")
    ]
    fake = FakeSyscalls(fail={"mount": 22})  # a kernel without volatile: the store's plain mount is tried
    with pytest.raises(OSError):
        init.mount_rootfs(fake, ["/l1"], "/u", "/w", "/t", throwaway=True)
    assert [c[5] for c in fake.calls] == [
        "lowerdir=/l1,upperdir=/u,workdir=/w,volatile",
        "lowerdir=/l1,upperdir=/u,workdir=/w",
    ]
    fake = FakeSyscalls()
    init.mount_rootfs(fake, ["/l1"], "/u", "/w", "/t", throwaway=False)
    assert "volatile" not in fake.calls[0][5]


def test_overlay_extra_options_are_appended_on_both_paths(tmp_path):
    from runtime.images.overlay import mount_overlay

    fake = FakeSyscalls()
    data = mount_overlay(fake, ["/l/a", "/l/b"], "/c/u", "/c/w", "/t", extra_options="volatile")
    assert data == "lowerdir=/l/a:/l/b,upperdir=/c/u,workdir=/c/w,volatile"
    lowers = [str(tmp_path / f"layer-{i:060d}") for i in range(120)]  # too long: the short-links path
    for d in lowers:
        (tmp_path / d).mkdir()
    (tmp_path / "c").mkdir()
    fake = FakeSyscalls()
    upper, work = str(tmp_path / "c/u"), str(tmp_path / "c/w")
    data = mount_overlay(fake, lowers, upper, work, "/t", extra_options="volatile")
    assert data.startswith("lowerdir=0:1:2:") and data.endswith(",volatile")
    assert fake.calls[0][5] == data


def test_namespace_flags_follow_the_network_mode():
    from runtime.linux.syscalls import CLONE_NEWNET

    assert init.namespace_flags("private") & CLONE_NEWNET
    assert init.namespace_flags("none") & CLONE_NEWNET
    assert not init.namespace_flags("host") & CLONE_NEWNET


@pytest.mark.root
def test_prepare_and_pivot_make_the_expected_calls(tmp_path, monkeypatch):
    fake = FakeSyscalls()
    init.prepare(fake, str(tmp_path))  # real mknod in tmp_path: needs root
    assert fake.names()[:3] == ["unshare", "mount", "link_up"]
    assert ("mount", "tmpfs", str(tmp_path), "tmpfs", 6, "mode=755,size=64k") in fake.calls
    drops = [c[2] for c in fake.calls if c[0] == "prctl" and c[1] == 24]
    from runtime.linux import capabilities

    assert set(drops).isdisjoint(capabilities.NUMBER[n] for n in capabilities.DOCKER_DEFAULT)
    assert capabilities.NUMBER["sys_admin"] in drops
    fake = FakeSyscalls()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(init.os, "chdir", lambda p: None)
    init.pivot(fake, str(tmp_path))
    assert fake.calls == [("pivot_root", ".", "."), ("umount", ".", 2)]


def test_start_errors_carry_docker_codes(tmp_path):
    fake = FakeSyscalls(fail={"mount": 1})
    with pytest.raises(init.StartError) as e:
        init.start_container(
            fake,
            None,
            {
                **_cfg(tmp_path),
                "tty": False,
                "stdin": False,
                "process": {"args": ["true"], "env": [], "cwd": "/", "user": ""},
            },
            None,
            1,
            2,
        )
    assert e.value.code == 125 and "container init failed" in str(e.value)


def test_signal_names():
    from runtime.containers.signals import signal_number

    assert signal_number("TERM") == 15 and signal_number("SIGKILL") == 9 and signal_number("9") == 9
    with pytest.raises(ValueError):
        signal_number("NOPE")


def test_run_flags_parse_like_docker():
    from runtime.cli.containers import parse_run_args

    a = parse_run_args(
        "vmvc run",
        [
            "-it",
            "--rm",
            "-e",
            "A=1",
            "-eB=2",
            "--name=web",
            "-m",
            "64m",
            "-v",
            "/a:/b:ro",
            "--net",
            "host",
            "--pids-limit",
            "50",
            "busybox",
            "sh",
            "-c",
            "echo -e x",
        ],
    )
    assert (a.interactive, a.tty, a.rm, a.detach) == (True, True, True, False)
    assert a.env == ["A=1", "B=2"] and a.name == "web" and a.memory == "64m" and a.volume == ["/a:/b:ro"]
    assert a.network == "host" and a.pids_limit == 50
    assert (a.image, a.command) == ("busybox", ["sh", "-c", "echo -e x"])
    b = parse_run_args("vmvc run", ["-d", "--", "busybox"])
    assert b.detach and b.image == "busybox" and b.command == [] and b.network == "private"


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--bogus", "x"], "unknown flag: --bogus"),
        (["-dz", "x"], "unknown shorthand flag: 'z' in -dz"),
        (["--name"], "flag needs an argument"),
        ([], "requires at least 1"),
        (["--pids-limit", "x", "i"], "not an integer"),
    ],
)
def test_run_flag_errors_exit_125(argv, message, capsys):
    from runtime.cli.containers import parse_run_args

    with pytest.raises(SystemExit) as e:
        parse_run_args("vmvc run", argv)
    assert e.value.code == 125
    assert message in capsys.readouterr().err
