"""The image commands as users type them (in-process through the dispatcher)."""

import io
import json
import os

import pytest

from runtime.cli.main import main
from tests.images.helpers import make_tar


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_images_table_and_json(store, capsys):
    store.resolve("hello-world")
    code, out, _ = run(capsys, "images")
    assert code == 0
    header, row = out.splitlines()
    assert header.split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert row.split()[:3] == ["hello-world", "latest", store.resolve("hello-world").short_id]
    code, out, _ = run(capsys, "images", "--json")
    (entry,) = json.loads(out)
    assert entry["RepoTags"] == ["hello-world:latest"] and isinstance(entry["Created"], int)
    assert run(capsys, "image", "ls", "-q")[1].strip() == entry["Id"][7:19]


def test_import_save_rmi_load(store, capsys, tmp_path):
    tar = tmp_path / "root.tar"
    tar.write_bytes(make_tar([("etc", "dir"), ("etc/motd", "file", "hi")]))
    code, out, _ = run(capsys, "import", str(tar), "myroot:1")
    assert code == 0 and out.strip().startswith("sha256:")
    image_id = out.strip()
    saved = tmp_path / "saved.tar"
    assert run(capsys, "save", "-o", str(saved), "myroot:1")[0] == 0
    code, out, _ = run(capsys, "rmi", "myroot:1")
    assert out.splitlines() == ["Untagged: myroot:1", f"Deleted: {image_id}"]
    code, out, _ = run(capsys, "load", "-i", str(saved))
    assert (code, out.strip()) == (0, "Loaded image: myroot:1")
    code, out, _ = run(capsys, "image", "inspect", "myroot:1")
    assert json.loads(out)[0]["Id"] == image_id


def test_import_from_stdin(store, capsys, monkeypatch):
    class Stdin:
        buffer = io.BytesIO(make_tar([("x", "file", "1")]))

    monkeypatch.setattr("sys.stdin", Stdin)
    code, out, _ = run(capsys, "import", "-", "fromstdin")
    assert code == 0 and store.resolve("fromstdin").id == out.strip()


def test_errors_are_one_line_with_docker_codes(store, capsys, tmp_path):
    code, _, err = run(capsys, "rmi", "nope")
    assert code == 1 and err.strip() == "Error response from daemon: No such image: nope:latest"
    code, _, err = run(capsys, "import", str(tmp_path / "missing.tar"), "x")
    assert code == 125 and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "image", "inspect", "nope")
    assert code == 1 and "No such image" in err
    with pytest.raises(SystemExit) as e:
        main(["images", "--bogus"])
    assert e.value.code == 125
    code, _, err = run(capsys, "import", str(tmp_path / "missing.tar"), "Bad Name")
    assert code == 125 and "invalid reference format" in err


def test_rmi_in_use_and_forced(store, capsys):
    img = store.resolve("hello-world")
    store.hold(img.id, "abc123")
    code, _, err = run(capsys, "rmi", "hello-world")
    assert code == 1 and "abc123" in err
    code, out, _ = run(capsys, "rmi", "-f", "hello-world")
    assert code == 0 and out.strip() == "Untagged: hello-world:latest"


def test_prune_init_and_system_df(store, capsys):
    code, out, _ = run(capsys, "image", "init")
    assert code == 0 and "hello-world:latest" in out and "busybox:latest" in out
    code, out, _ = run(capsys, "system", "df", "-v")
    assert code == 0 and out.startswith("TYPE") and "Shared layers" in out and "UNIQUE SIZE" in out
    usage = json.loads(run(capsys, "system", "df", "--json")[1])
    assert len(usage["Images"]) == 2
    code, out, _ = run(capsys, "image", "prune", "-a", "-f")
    assert code == 0 and "Total reclaimed space" in out and store.images() == []
    assert os.listdir(store.layers) == []


def test_images_filter_and_tag(store, capsys):
    store.resolve("hello-world")
    assert run(capsys, "image", "tag", "hello-world", "greet:v1")[0] == 0
    assert run(capsys, "image", "tag", "hello-world", "greet:v2")[0] == 0
    out = run(capsys, "images", "greet")[1].splitlines()
    assert [line.split()[:2] for line in out[1:]] == [["greet", "v1"], ["greet", "v2"]]
    out = run(capsys, "images", "greet:v2")[1].splitlines()
    assert len(out) == 2 and out[1].split()[:2] == ["greet", "v2"]
    code, _, err = run(capsys, "image", "tag", "nope", "x")
    assert code == 125 and "No such image" in err


def test_import_with_changes(store, capsys, tmp_path):
    tar = tmp_path / "root.tar"
    tar.write_bytes(make_tar([("x", "file", "1")]))
    code, out, _ = run(capsys, "import", "-c", 'CMD ["/bin/echo", "hi"]', "-c", "ENV A=1 B=two",
                       "-c", "WORKDIR /srv", "-c", "ENTRYPOINT exec app", str(tar), "changed")
    assert code == 0
    config = store.resolve("changed").config
    assert config["Cmd"] == ["/bin/echo", "hi"]
    assert config["Entrypoint"] == ["/bin/sh", "-c", "exec app"]
    assert config["Env"][-2:] == ["A=1", "B=two"] and config["Env"][0].startswith("PATH=")
    assert config["WorkingDir"] == "/srv"
    code, _, err = run(capsys, "import", "-c", "RUN rm -rf /", str(tar), "bad")
    assert code == 125 and "not a valid change" in err
