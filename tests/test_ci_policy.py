"""The suite's own policy: capability markers skip with evidence; under CI=true quiet skips fail."""

from pathlib import Path

import pytest

CONFTEST = (Path(__file__).parent / "conftest.py").read_text()

SAMPLE = '''
import pytest

def test_body_skip():
    pytest.skip("no reason that CI accepts")

@pytest.mark.kvm_hw
def test_needs_hardware_virtualisation():
    pass

@pytest.mark.python_marker_unknown_to_us
def test_plain():
    pass
'''


@pytest.fixture
def sample(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_sample=SAMPLE)
    pytester.makeini("[pytest]\nmarkers =\n  kvm_hw: x\n  python_marker_unknown_to_us: x\n")
    return pytester


def _hardware_kvm() -> bool:
    from runtime.doctor import host
    return host().ready("kvm.hw")


def test_outside_ci_skips_stay_skips(sample, monkeypatch):
    monkeypatch.setenv("CI", "false")
    result = sample.runpytest_subprocess("-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0
    assert outcomes["skipped"] == (1 if _hardware_kvm() else 2)


def test_under_ci_a_quiet_skip_fails_but_impossible_capabilities_may_skip(sample, monkeypatch):
    monkeypatch.setenv("CI", "true")
    result = sample.runpytest_subprocess("-p", "no:cacheprovider", "-rA")
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] == 1
    result.stdout.fnmatch_lines(["*skipped under CI=true*no reason that CI accepts*"])
    if not _hardware_kvm():
        assert outcomes["skipped"] == 1
        result.stdout.fnmatch_lines(["*needs kvm_hw: kvm.hw missing*"])
