"""The device allow-list a v1 container cgroup gets, against a fake cgroupfs (no root needed)."""

from __future__ import annotations

from runtime.cgroups.devices import ALLOWED, restrict
from runtime.cgroups.v1 import V1
from runtime.cgroups.v2 import V2


def test_v1_create_denies_all_then_allows_dockers_list(tmp_path, monkeypatch):
    writes = []
    monkeypatch.setattr("runtime.cgroups.devices.write", lambda path, value: writes.append((path, value)))
    roots = {c: str(tmp_path / c) for c in ("memory", "cpu", "cpuacct", "pids", "devices")}
    cg = V1(roots)
    cg.create("vmvc-d")
    dev = str(tmp_path / "devices" / "vmvc-d")
    assert writes[0] == (f"{dev}/devices.deny", "a")
    assert writes[1:] == [(f"{dev}/devices.allow", rule) for rule in ALLOWED]
    assert f"{dev}/cgroup.procs" in cg.procs_files("vmvc-d")  # the stem joins it with the others
    assert cg.devices_enforced is True


def test_the_allow_list_is_dockers():
    assert set(ALLOWED) == {
        "c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
        "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm",
    }  # fmt: skip
    assert not any(r.startswith("b ") and "r" in r.split()[-1] for r in ALLOWED)


def test_restrict_writes_deny_before_allow(tmp_path):
    restrict(str(tmp_path))
    assert (tmp_path / "devices.deny").read_text() == "a"
    assert (tmp_path / "devices.allow").read_text() == ALLOWED[-1]  # each rule its own write


def test_without_a_devices_hierarchy_nothing_is_enforced(tmp_path):
    assert V1({"memory": str(tmp_path / "memory")}).devices_enforced is False
    assert V2(str(tmp_path)).devices_enforced is False


def test_available_reads_proc_self_cgroup(tmp_path):
    from runtime.cgroups.devices import available

    f = tmp_path / "cgroup"
    f.write_text("12:pids:/vmvc-a\n5:devices:/vmvc-a\n0::/\n")
    assert available(str(f)) is True
    f.write_text("4:cpu,cpuacct:/\n5:devices:/\n0::/\n")  # hybrid host: the v1 backend restricts it
    assert available(str(f)) is True
    f.write_text("0::/vmvc-a\n")  # pure v2: no device program is attached by this engine
    assert available(str(f)) is False
    assert available(str(tmp_path / "missing")) is False


def test_without_device_checks_mounts_are_nodev_and_mknod_is_dropped(tmp_path, monkeypatch):
    """The v2 fallback: a fake cgroupfs without a devices controller, fake syscalls, real dirs."""
    from runtime.containers import init
    from runtime.linux import capabilities
    from runtime.linux.fake import FakeSyscalls
    from runtime.linux.syscalls import MS_BIND, MS_NODEV, MS_RDONLY, MS_REMOUNT, PR_CAPBSET_DROP

    proc = tmp_path / "proc-self-cgroup"
    proc.write_text("0::/vmvc-a\n")
    monkeypatch.setattr("runtime.cgroups.devices.PROC_CGROUP", str(proc))
    monkeypatch.setattr(init, "NODEV", None)
    fake = FakeSyscalls()
    keep = init.drop_bounding_set(fake)
    mknod = capabilities.NUMBER["mknod"]
    assert init.NODEV is True and not keep >> mknod & 1
    assert ("prctl", PR_CAPBSET_DROP, mknod, 0, 0, 0) in fake.calls
    (tmp_path / "src").mkdir()
    cfg = {"layers": ["/l0"], "upper": "/u", "work": "/w", "auto_remove": False}
    cfg["volumes"] = [{"host": str(tmp_path / "src"), "container": "/data", "readonly": True}]
    base = tmp_path / "base"
    (base / "root").mkdir(parents=True)
    monkeypatch.setattr(init, "mount_rootfs", lambda sys_, *a: None)
    fake = FakeSyscalls()
    init.apply(fake, init.plan(cfg, str(base)))
    remounts = [c for c in fake.calls if c[0] == "mount" and c[4] & MS_REMOUNT]
    assert remounts == [
        ("mount", None, str(base / "root"), None, MS_BIND | MS_REMOUNT | MS_NODEV, None),
        ("mount", None, str(base / "root/data"), None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NODEV, None),
    ]
