"""Durations worded as docker words them (go-units HumanDuration): the same in ps, images, the daemon."""

import pytest

from runtime.units import human_duration


@pytest.mark.parametrize("seconds,text", [
    (0.4, "Less than a second"), (1, "1 second"), (59, "59 seconds"), (60, "About a minute"),
    (119, "About a minute"), (120, "2 minutes"), (3599, "59 minutes"), (3600, "About an hour"),
    (5399, "About an hour"), (5400, "2 hours"), (47 * 3600, "47 hours"), (48 * 3600, "2 days"),
    (14 * 86400, "2 weeks"), (60 * 86400, "2 months"), (730 * 86400, "2 years"),
])
def test_docker_wording(seconds, text):
    assert human_duration(seconds) == text


def test_ps_images_and_the_daemon_share_it():
    from runtime.cli import containers, images
    from runtime.daemon.api import shapes

    assert containers._human(90) == "About a minute"
    assert images._ago("1970-01-01T00:00:01Z").endswith("years ago")
    assert shapes._since(None) == "Less than a second"
