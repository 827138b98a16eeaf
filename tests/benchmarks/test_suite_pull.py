"""The pull and mirror suites, run for real in quick mode (busybox only): every method measured, the
ratios said against the targets, the mirror served by the mirror, charts drawn, nothing left behind.
No timed assertions."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from benchmarks.suite import Results, SuiteContext  # noqa: E402
from benchmarks.suites import mirror, pull  # noqa: E402
from benchmarks.suites._registry import Image, layer_body  # noqa: E402

pytestmark = [pytest.mark.root, pytest.mark.registry, pytest.mark.busybox, pytest.mark.timeout(900)]


def test_variants_differ_in_every_layer_and_stay_valid_gzip_tars():
    import gzip
    import hashlib
    import io
    import tarfile

    image = Image([layer_body("a", 20, 500, "text", seed=1), layer_body("b", 2, 5000, "random", seed=2)],
                  ["sh"])
    (c0, l0), (c1, l1) = image.variant(0), image.variant(1)
    assert all(a != b for a, b in zip(l0, l1, strict=True)) and c0 != c1
    for config, layers in ((c0, l0), (c1, l1)):
        import json

        diff_ids = json.loads(config)["rootfs"]["diff_ids"]
        for blob, diff_id in zip(layers, diff_ids, strict=True):
            tar = gzip.decompress(blob)  # two gzip members: the body, then the stamp and the end blocks
            assert "sha256:" + hashlib.sha256(tar).hexdigest() == diff_id
            with tarfile.open(fileobj=io.BytesIO(tar)) as t:
                assert t.getnames()[-1] == ".vmvc-bench-variant"


@pytest.mark.skopeo
@pytest.mark.dockerd
def test_the_pull_suite_measures_vmvc_skopeo_and_dockerd_side_by_side(tmp_path, monkeypatch, no_leaks):
    monkeypatch.setenv("VMVC_ROOT", str(tmp_path / "root"))
    ctx = SuiteContext("pull", quick=True, workdir=tmp_path / "work")
    os.mkdir(ctx.workdir)
    pull.run(ctx)
    res = Results(ctx.samples, {"pull": ctx.facts})
    for method in (pull.VMVC, pull.SKOPEO, pull.SKOPEO_OCI, pull.DOCKER):
        s = res.get("pull", method, "pull", image="busybox", mb=2.1)
        assert s is not None and s.n == 3 and s.median > 0, method
    assert {"vmvc/skopeo busybox", "vmvc/dockerd busybox"} <= set(ctx.facts)
    assert any("target ≤ 0.50×" in n for n in ctx.notes)
    (image, _, to_skopeo, to_docker), = pull.ratios(res)
    assert image == "busybox" and to_skopeo > 0 and to_docker > 0
    assert sorted(os.listdir(ctx.workdir)) == ["hub", "seeder"]  # every destination removed (the runner
    with open("/proc/self/mountinfo") as f:                     # removes the rest), nothing mounted there
        assert str(ctx.workdir) not in f.read()
    fig, ax = plt.subplots()
    pull.chart(res, ax)
    assert len(ax.patches) == 4
    plt.close(fig)


def test_the_mirror_suite_pulls_through_a_far_hub_and_a_near_mirror(tmp_path, monkeypatch, no_leaks):
    monkeypatch.setenv("VMVC_ROOT", str(tmp_path / "root"))
    ctx = SuiteContext("mirror", quick=True, workdir=tmp_path / "work")
    os.mkdir(ctx.workdir)
    mirror.run(ctx)
    res = Results(ctx.samples, {"mirror": ctx.facts})
    for method in (mirror.FAR, mirror.NEAR, mirror.DEAD):
        assert res.get("mirror", method, "pull", image="busybox", mb=2.1).n == 3
    assert ctx.facts[f"served_by {mirror.NEAR} busybox"] == "mirror"
    assert ctx.facts[f"served_by {mirror.FAR} busybox"] == "hub"
    assert ctx.facts[f"served_by {mirror.DEAD} busybox"] == "hub"
    (row,) = mirror.claims(res)
    assert row.id == "C12" and "busybox (2.1 MB)" in row.measured
    fig, ax = plt.subplots()
    mirror.chart(res, ax)
    assert len(ax.patches) == 3 and ax.get_xscale() == "log"
    plt.close(fig)
