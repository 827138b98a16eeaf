"""The json-file log: fast encoding that matches json.dumps, rotation (max-size/max-file), streaming
reads in constant memory, follow across rotations, and a `yes` flood that stays bounded."""

from __future__ import annotations

import json
import os
import time
import tracemalloc

import pytest

from runtime.containers import Spec, logs
from runtime.errors import VmvcError
from tests.containers.conftest import REAL


def _lines(n: int, start: int = 0) -> bytes:
    return b"".join(b"line %d\n" % i for i in range(start, start + n))


@pytest.mark.parametrize(
    "chunk",
    [
        b"plain\n",
        b"a\nb\nc\n",
        b'quote " and \\ back\n',
        "ünïcode\n".encode(),
        b"tab\there\r\n",
        b"\x00\x1b[1m\n",
    ],
)
def test_the_fast_encoding_is_what_json_dumps_gives(chunk):
    blob = logs._encode("stdout", chunk, "T")
    got = [json.loads(line) for line in blob.splitlines()]
    want = [
        {"log": (p + b"\n").decode("utf-8", "replace"), "stream": "stdout", "time": "T"}
        for p in chunk.split(b"\n")[:-1]
    ]
    assert got == want


def test_partial_lines_are_kept_until_complete_or_16k(tmp_path):
    path = str(tmp_path / "c-json.log")
    w = logs.LogWriter(path)
    w.write("stdout", b"abc")
    w.write("stdout", b"def\nxy")
    w.write("stdout", b"z" * logs.MAX_PARTIAL)
    w.close()
    got = [e["log"] for e in logs.stream(path)]
    assert got == ["abcdef\n", "xy" + "z" * (logs.MAX_PARTIAL - 2), "zz"]


def test_log_opts_parse_like_docker():
    assert logs.parse_opts([]) == (10 << 20, 3)  # vmvc's default: at most 30 MB per container
    assert logs.parse_opts(["max-size=512k", "max-file=5"]) == (512 << 10, 5)
    assert logs.parse_opts(["max-size=1.5m"]) == (int(1.5 * (1 << 20)), 3)
    assert logs.parse_opts(["max-size=-1"])[0] == 0  # unlimited
    for bad in (["max-size=abc"], ["max-size=0"], ["max-file=0"], ["mode=non-blocking"], ["max-size"]):
        with pytest.raises(VmvcError):
            logs.parse_opts(bad)
    with pytest.raises(VmvcError, match="unknown log opt"):
        Spec("busybox", ["true"], log_opt=["labels=a"])


def test_rotation_keeps_max_file_files_of_at_most_max_size(tmp_path):
    path = str(tmp_path / "c-json.log")
    w = logs.LogWriter(path, max_size=4096, max_file=3)
    for i in range(200):
        w.write("stdout", _lines(10, 10 * i))
    w.close()
    names = sorted(os.listdir(tmp_path))
    assert names == ["c-json.log", "c-json.log.1", "c-json.log.2"]
    assert all(os.path.getsize(tmp_path / n) <= 4096 for n in names)
    got = [e["log"] for e in logs.stream(path)]
    first = int(got[0].split()[1])
    assert got == [f"line {i}\n" for i in range(first, 2000)]  # the newest, in order, none lost between
    assert [e["log"] for e in logs.stream(path, tail=3)] == ["line 1997\n", "line 1998\n", "line 1999\n"]
    assert logs.read(path, tail=0) == []


def test_max_file_1_starts_the_one_file_over(tmp_path):
    path = str(tmp_path / "c-json.log")
    w = logs.LogWriter(path, max_size=1000, max_file=1)
    w.write("stdout", _lines(200))
    w.close()
    assert os.listdir(tmp_path) == ["c-json.log"] and os.path.getsize(path) <= 1000
    assert logs.read(path)[-1]["log"] == "line 199\n"


def test_reading_a_large_log_takes_constant_memory(tmp_path):
    path = str(tmp_path / "c-json.log")
    w = logs.LogWriter(path, max_size=0)
    for i in range(60):
        w.write("stdout", _lines(1000, 1000 * i))  # ~4 MB of log: ~35 MB as a list of entries
    w.close()
    assert os.path.getsize(path) > 3 << 20
    tracemalloc.start()
    try:
        n = sum(1 for _ in logs.stream(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert n == 60_000
    assert peak < 1 << 20, peak  # a few lines at a time, not the log (nor 9 times it)


def test_follow_goes_on_across_a_rotation(tmp_path):
    path = str(tmp_path / "c-json.log")
    w = logs.LogWriter(path, max_size=2048, max_file=2)
    w.write("stdout", _lines(5))
    rounds = iter(range(40))

    def running() -> bool:  # called once per poll: the container writes (and rotates) meanwhile
        i = next(rounds, None)
        if i is None:
            return False
        w.write("stdout", _lines(5, 5 + 5 * i))
        return True

    got = [e["log"] for e in logs.follow(path, running, poll=0)]
    w.close()
    assert got == [f"line {i}\n" for i in range(205)]


# -- a flood through the real engine ------------------------------------------------------------------
def _real(test):
    for mark in REAL:
        test = mark(test)
    return test


@_real
def test_a_yes_flood_is_rotated_and_other_containers_still_start(engine):
    cid = engine.create(Spec("busybox", ["yes"], name="flood", log_opt=["max-size=256k", "max-file=2"]))
    engine.start(cid)
    log = engine.table.log_path(cid)
    deadline = time.monotonic() + 60
    while not os.path.exists(log + ".1"):  # it rotated at least once
        assert time.monotonic() < deadline, "the flood's log never rotated"
        time.sleep(0.05)
    for i in range(3):
        r = engine.run(Spec("busybox", ["echo", str(i)], auto_remove=True))
        assert (r.exit_code, r.stdout) == (0, f"{i}\n".encode())
    engine.kill(cid)
    engine.wait(cid)
    names = sorted(n for n in os.listdir(os.path.dirname(log)) if n.startswith(cid))
    assert names == [f"{cid}-json.log", f"{cid}-json.log.1"]
    assert all(os.path.getsize(os.path.join(os.path.dirname(log), n)) <= 256 << 10 for n in names)
    entries = engine.logs(cid)
    assert all(e["log"] == "y\n" for e in entries)
    assert engine.inspect(cid)["HostConfig"]["LogConfig"]["Config"] == {"max-size": "256k", "max-file": "2"}
    engine.remove(cid)
