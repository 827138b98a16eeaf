"""registry-mirrors as dockerd uses them: config order, then the hub; which failures fall back."""

from __future__ import annotations

import pytest

from benchmarks.netshape import ShapedProxy
from runtime.errors import VmvcError
from runtime.registry import LocalRegistry, pull
from runtime.registry.server import free_port
from tests.registry.conftest import fresh_store

pytestmark = [pytest.mark.registry, pytest.mark.busybox]


def pull_events(store, config):
    events = []
    result = pull(store, "busybox", config=config, progress=events.append)
    return result, [e["status"] for e in events]


def test_a_mirror_that_lacks_the_image_falls_back_to_the_hub(hub, tmp_path):
    with LocalRegistry(str(tmp_path / "empty")) as empty:
        result, said = pull_events(fresh_store(tmp_path, "s"),
                                   {"hub": hub.url, "registry-mirrors": [empty.url]})
    assert result.endpoint == hub.url
    assert [url for url, _ in result.tried] == [empty.url]
    assert any("MANIFEST_UNKNOWN" in s and "trying the next endpoint" in s for s in said)


def test_a_mirror_that_is_down_or_answers_500_falls_back(hub, tmp_path):
    down = f"http://127.0.0.1:{free_port()}"
    with ShapedProxy(hub.port, fail_500=True) as broken:
        result, said = pull_events(fresh_store(tmp_path, "s"),
                                   {"hub": hub.url, "registry-mirrors": [down, broken.url]})
    assert result.endpoint == hub.url
    assert [url for url, _ in result.tried] == [down, broken.url]
    assert "connection refused" in result.tried[0][1] and "500" in result.tried[1][1]


def test_a_slow_mirror_still_serves_and_the_first_good_one_wins(hub, tmp_path):
    with LocalRegistry(str(tmp_path / "cache"), upstream=hub.url) as cache, \
            ShapedProxy(cache.port, rtt_ms=60) as slow:
        result, said = pull_events(fresh_store(tmp_path, "s"),
                                   {"hub": hub.url, "registry-mirrors": [slow.url]})
        assert result.endpoint == slow.url and result.tried == []
        assert any(e.startswith("Pull complete") for e in said)
        # the pull-through cache now holds it: a second store pulls it with the hub gone
        hub.stop()
        again = pull(fresh_store(tmp_path, "t"), "busybox", config={"hub": hub.url, "registry-mirrors":
                                                                    [cache.url]})
        assert again.endpoint == cache.url


def test_errors_from_the_hub_itself_do_not_fall_back(hub, tmp_path):
    with LocalRegistry(str(tmp_path / "other")) as other:
        store = fresh_store(tmp_path, "s")
        with pytest.raises(VmvcError, match="manifest unknown"):
            pull(store, "nosuch", config={"hub": hub.url, "registry-mirrors": [other.url]})
        assert store.images() == []


def test_mirrors_apply_to_hub_images_only(hub, tmp_path):
    with LocalRegistry(str(tmp_path / "m")) as mirror:
        store = fresh_store(tmp_path, "s")
        result = pull(store, f"{hub.host}/library/busybox", config={"registry-mirrors": [mirror.url]})
    assert result.endpoint == f"http://{hub.host}" and result.tried[0][0] == f"https://{hub.host}"


@pytest.mark.parametrize("bad", ["ftp://x", "http://h/path", "http://u:p@h", "http://h/?q=1", 5])
def test_bad_mirror_urls_are_one_line_errors(bad):
    from runtime.registry import config

    with pytest.raises(VmvcError, match="invalid mirror"):
        config.validate_mirror(bad)


@pytest.mark.parametrize("conf,words", [
    ({"registry-mirrors": "http://m"}, "registry-mirrors must be a list of strings"),
    ({"insecure-registries": 5}, "insecure-registries must be a list of strings"),
    ({"insecure-registries": [["10.0.0.0/8"]]}, "insecure-registries must be a list of strings"),
    ({"hub": 5}, "invalid hub"),
    ({"hub": "registry.example"}, "invalid hub"),
])
def test_a_daemon_json_of_the_wrong_shape_is_one_line(tmp_path, conf, words):
    """Not a character-by-character walk of a string, nor a TypeError traceback from a number."""
    import json

    from runtime.registry import config

    f = tmp_path / "daemon.json"
    f.write_text(json.dumps(conf))
    with pytest.raises(VmvcError, match=words):
        config.load(str(f))
