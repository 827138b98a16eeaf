"""Rootless mode's id-map logic (runtime.rootless.idmap), without namespaces: which range a user gets."""

from __future__ import annotations

from runtime.rootless import idmap


def test_ranges_match_name_or_uid_and_skip_malformed_lines(tmp_path):
    f = tmp_path / "subuid"
    f.write_text("alice:100000:65536\nbob:x:1\n1001:200000:1000\ncarol:300000:0\n")
    assert idmap.ranges(str(f), "alice", 1000) == (100000, 65536)
    assert idmap.ranges(str(f), "bob", 1001) == (200000, 1000)  # by uid when the name line is bad
    assert idmap.ranges(str(f), "carol", 1002) is None  # an empty range is no range
    assert idmap.ranges(str(tmp_path / "missing"), "alice", 1000) is None


def test_a_plan_without_a_range_maps_one_id_and_says_how_to_get_more(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "subuid").write_text("someone:100000:65536\n")
    (tmp_path / "etc" / "subgid").write_text("someone:100000:65536\n")
    p = idmap.plan(4242, 4242, str(tmp_path))
    assert not p.full and p.subuid is None
    assert "only uid 0 -> 4242" in p.describe() and "usermod --add-subuids" in p.describe()
    full = idmap.Plan(1000, 1000, "alice", (100000, 65536), (100000, 65536), "/usr/bin/newuidmap",
                      "/usr/bin/newgidmap")
    assert full.full and "1..65536 -> 100000" in full.describe()
