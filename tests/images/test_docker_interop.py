"""Images move between vmvc and a real Docker daemon both ways, with the same ids, and still run."""

import pytest

from tests.dockerd import Dockerd

pytestmark = [pytest.mark.root, pytest.mark.dockerd, pytest.mark.docker_cli, pytest.mark.namespaces]


@pytest.fixture(scope="module")
def dockerd():
    daemon = Dockerd()
    yield daemon
    daemon.stop()


def _vmvc_busybox_into_docker(dockerd, vmvc_root, tmp_path) -> str:
    """``vmvc save busybox`` piped into ``docker load``; returns vmvc's image id."""
    from runtime.images import archives, open_store

    store = open_store(vmvc_root / "images")
    image = store.resolve("busybox")
    tar = tmp_path / "busybox.tar"
    with open(tar, "wb") as f:
        archives.save(store, ["busybox"], f)
    assert "busybox:latest" in dockerd.docker("load", "-i", str(tar)).stdout
    return image.id


def test_vmvc_save_then_docker_load_keeps_the_id_and_runs(dockerd, vmvc_root, tmp_path):
    image_id = _vmvc_busybox_into_docker(dockerd, vmvc_root, tmp_path)
    assert dockerd.docker("image", "inspect", "-f", "{{.Id}}", "busybox").stdout.strip() == image_id
    ran = dockerd.docker("run", "--rm", "--network", "none", "busybox", "sh", "-c",
                         "echo hi from docker; ls /bin/echo")
    assert ran.stdout.split() == ["hi", "from", "docker", "/bin/echo"]


def test_docker_save_then_vmvc_load_keeps_the_id_and_runs(dockerd, vmvc_root, tmp_path):
    from runtime.containers import Engine, Spec
    from runtime.images import archives, open_store

    _vmvc_busybox_into_docker(dockerd, vmvc_root, tmp_path)
    dockerd.docker("tag", "busybox", "roundtrip:1")
    store = open_store(vmvc_root / "images")
    tar = tmp_path / "from-docker.tar"
    dockerd.docker("save", "-o", str(tar), "roundtrip:1")
    docker_id = dockerd.docker("image", "inspect", "-f", "{{.Id}}", "roundtrip:1").stdout.strip()
    with open(tar, "rb") as f:
        archives.load(store, f)
    assert store.resolve("roundtrip:1").id == docker_id
    engine = Engine(vmvc_root / "containers")
    try:
        result = engine.run(Spec("roundtrip:1", ["echo", "back in vmvc"], auto_remove=True))
        assert result.exit_code == 0 and result.stdout.strip() == b"back in vmvc"
    finally:
        engine.shutdown()
