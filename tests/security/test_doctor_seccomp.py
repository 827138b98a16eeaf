"""``vmvc doctor``'s seccomp line: from files on a fake tree, and tried for real on this host."""

from __future__ import annotations

import pytest

from runtime.doctor import seccomp


def test_without_a_seccomp_line_it_is_missing(tmp_path):
    (tmp_path / "proc/self").mkdir(parents=True)
    (tmp_path / "proc/self/status").write_text("Name:\tx\n")
    assert seccomp.check(str(tmp_path), active=False).verdict == "missing"
    (tmp_path / "proc/self/status").write_text("Name:\tx\nSeccomp:\t0\n")
    assert seccomp.check(str(tmp_path), active=False).verdict == "ready"


@pytest.mark.root
def test_the_default_filter_loads_and_blocks_user_namespaces_here():
    check = seccomp.check("/", active=True)
    assert check.verdict == "ready", check.evidence
    assert check.data["instructions"] < 400


@pytest.mark.root
def test_the_cost_benchmark_runs_and_reports_each_part(tmp_path):
    import json

    from benchmarks import seccomp_cost

    out = tmp_path / "s.json"
    assert seccomp_cost.main(["--runs", "3", "--calls", "2000", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["instructions"] < 400
    assert result["install_us"]["median"] > 0 and result["compile_ms"] > 0
    assert set(result["syscall_ns"]) == {"plain", "filtered", "added"}
    assert 0 <= result["kernel_kb"] < 64
