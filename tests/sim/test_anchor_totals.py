"""Container profiles reproduce the anchors back to back, and pay the cgroup grace on an idle host."""

import pytest

from sim.profiles import load

ANCHORS_MS = {"crun": (11, 14), "runc": (43, 55), "docker": (230, 256)}


@pytest.mark.parametrize("name", sorted(ANCHORS_MS))
def test_back_to_back_start_is_within_the_anchor(name):
    profile = load(name)
    (spec,) = profile.instances.values()
    lo, hi = ANCHORS_MS[name]
    back_to_back = spec.solo_seconds(profile.host, warm=True, idle=False) * 1000
    idle = spec.solo_seconds(profile.host, warm=True) * 1000
    assert lo <= back_to_back <= hi
    assert idle > back_to_back  # the first cgroup move after idle pays the RCU grace period
