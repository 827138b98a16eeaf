"""Two writers at once (two processes): the flock and atomic renames keep the store consistent."""

import json
import os
import subprocess
import sys

from tests.images.helpers import make_tar

IMPORT = """
import sys
from runtime.images import open_store
open_store().import_tar(sys.argv[1], sys.argv[2])
"""
RMI = """
import sys
from runtime.errors import NotFound
from runtime.images import open_store
try:
    open_store().remove(sys.argv[1])
except NotFound:
    print("notfound")
"""


def _run_together(scripts: list[list[str]]) -> list[subprocess.CompletedProcess]:
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    procs = [subprocess.Popen([sys.executable, "-c", *args], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for args in scripts]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=60)
        out.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    return out


def _consistent(store) -> None:
    """Every tag names an image, every image's layers and blobs exist, nothing is left in tmp/."""
    with open(os.path.join(store.root, "index.json")) as f:
        idx = json.load(f)
    for tag, image_id in idx["tags"].items():
        assert tag in idx["images"][image_id]["tags"]
    for image_id, rec in idx["images"].items():
        assert os.path.exists(store.blob_path(image_id))
        for d in rec["layers"]:
            assert os.path.isdir(store.layer_dir(d))
            assert os.path.exists(store.blob_path(d)) or os.path.exists(store.tarsplit_path(d))
    assert os.listdir(store.tmp) == []


def test_two_imports_at_once(store, tmp_path):
    big = [(f"f{i}", "file", os.urandom(2048)) for i in range(300)]
    (tmp_path / "a.tar").write_bytes(make_tar([("only-a", "file", "a"), *big]))
    (tmp_path / "b.tar").write_bytes(make_tar([("only-b", "file", "b"), *big]))
    (tmp_path / "same.tar").write_bytes(make_tar(big))
    done = _run_together([[IMPORT, str(tmp_path / "a.tar"), "a"], [IMPORT, str(tmp_path / "b.tar"), "b"],
                          [IMPORT, str(tmp_path / "same.tar"), "same1"],
                          [IMPORT, str(tmp_path / "same.tar"), "same2"]])
    assert [d.returncode for d in done] == [0, 0, 0, 0], [d.stderr for d in done]
    assert {t for i in store.images() for t in i.repo_tags} == {"a:latest", "b:latest", "same1:latest",
                                                                "same2:latest"}
    assert len(os.listdir(store.layers)) == 3  # same.tar's layer extracted once
    _consistent(store)


def test_two_rmi_at_once(store, tmp_path):
    shared = [(f"s{i}", "file", "x" * 100) for i in range(50)]
    store.import_tar(str(_write(tmp_path / "1.tar", make_tar(shared))), "one")
    store.import_tar(str(_write(tmp_path / "2.tar", make_tar([*shared, ("two", "file", "2")]))), "two")
    store.tag("one", "one-alias")
    done = _run_together([[RMI, "two"], [RMI, "two"], [RMI, "one"], [RMI, "one-alias"]])
    assert all(d.returncode == 0 for d in done), [d.stderr for d in done]
    assert sum(d.stdout.strip() == "notfound" for d in done[:2]) == 1  # exactly one removed "two"
    assert store.images() == []
    assert os.listdir(store.layers) == []
    _consistent(store)


def _write(path, data):
    path.write_bytes(data)
    return path


FROM_FIFO = """
import sys
from runtime.images import open_store
open_store().import_tar(sys.argv[1], "crashed")
"""


def test_a_crashed_import_is_cleaned_up_by_the_next_writer(store, tmp_path):
    import signal
    import time

    fifo = tmp_path / "feed"
    os.mkfifo(fifo)
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    proc = subprocess.Popen([sys.executable, "-c", FROM_FIFO, str(fifo)], env=env)
    data = make_tar([(f"f{i}", "file", os.urandom(4096)) for i in range(200)])
    with open(fifo, "wb") as feed:
        feed.write(data[: len(data) // 2])
        feed.flush()
        deadline = time.monotonic() + 30
        while not any(n.startswith("vmvc-stage-") for n in os.listdir(store.tmp)):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)  # a crash mid-import: no finally blocks run
        proc.wait(timeout=30)
    assert os.listdir(store.tmp)  # its staging dir is still there...
    store.import_tar(str(_write(tmp_path / "ok.tar", make_tar([("ok", "file", "1")]))), "ok")
    assert store.find("crashed") is None and store.resolve("ok")
    _consistent(store)  # ...until the next writer removed it
