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
