"""Whiteouts that would hide nothing real (``.wh.``, ``.wh..``, ``.wh...``) are unsafe layer entries."""

import io
import os

import pytest

from runtime.cli.main import main
from runtime.images import layers
from tests.images.helpers import make_tar
from tests.images.test_safety import store_state


@pytest.mark.parametrize("name", [".wh...", ".wh..", ".wh.", "d/.wh...", "d/.wh."])
def test_whiteout_of_an_empty_dot_or_dotdot_name_is_refused(store, name):
    store.resolve("hello-world")
    before = store_state(store)
    entries = [("d", "dir")] if name.startswith("d/") else []
    with pytest.raises(layers.UnsafeArchive, match="unsafe layer entry") as err:
        store.import_tar(io.BytesIO(make_tar([*entries, (name, "file", "")])), "evil:1")
    assert name in str(err.value)
    assert store_state(store) == before and store.find("evil:1") is None


def test_cli_import_of_a_lone_dotdot_whiteout_is_one_line_and_125(store, tmp_path, capsys):
    bad = tmp_path / "wh.tar"
    bad.write_bytes(make_tar([(".wh...", "file", "")]))
    assert main(["import", str(bad), "evil"]) == 125
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("vmvc: unsafe layer entry") and ".wh..." in err[0]


@pytest.mark.root
def test_ordinary_whiteouts_still_work(store):
    img = store.import_tar(io.BytesIO(make_tar([("a", "dir"), ("a/.wh.gone", "file", "")])), "ok")
    st = os.lstat(os.path.join(img.layer_dirs[0], "a/gone"))
    assert os.major(st.st_rdev) == 0 and os.minor(st.st_rdev) == 0
