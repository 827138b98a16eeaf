"""``vmvc bench --compare``: several hosts' results in one report, one column per host."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from benchmarks import RECORDED

VMVC = os.path.join(os.path.dirname(sys.executable), "vmvc")


def test_compare_two_hosts(tmp_path):
    other = json.load(open(RECORDED))
    other["host"] = {**other.get("host", {}), "cpus": 64, "accelerator": {"accel": "kvm", "reason": "VT-x"}}
    (tmp_path / "lab").mkdir()
    (tmp_path / "lab" / "results.json").write_text(json.dumps(other))
    r = subprocess.run([VMVC, "bench", "--compare", RECORDED, str(tmp_path / "lab" / "results.json"), "--out",
                        str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    md = (tmp_path / "out" / "compare.md").read_text()
    assert "(64 CPU, kvm)" in md and "(2 CPU, tcg)" in md
    assert all(f"| C{i} " in md for i in range(1, 14))
    html = (tmp_path / "out" / "compare.html").read_text()
    assert html.count("<table>") == 3 and 'src="' not in html and 'href="' not in html  # self-contained
    bad = subprocess.run([VMVC, "bench", "--compare", str(tmp_path / "nope.json")], capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 125 and len(bad.stderr.strip().splitlines()) == 1
