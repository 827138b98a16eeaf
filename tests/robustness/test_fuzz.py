"""Hypothesis fuzzing (issue 10): parsers and archive readers only ever raise vmvc's own one-line errors.

Whatever the bytes or words, the result is success or a :class:`~runtime.errors.VmvcError` (the CLI
prints it as one line with its exit code); argparse-level mistakes end in ``SystemExit(125)`` after
one line. Anything else (``KeyError``, ``struct.error``, ``RecursionError``...) would reach a user as a
traceback, and is a failure here.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tarfile
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.errors import VmvcError
from tests.images.helpers import make_docker_archive, make_tar

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))

SAMPLE_TAR = make_tar([("bin", "dir"), ("bin/sh", "file", "#!" + "x" * 600), ("lib", "symlink", "bin"),
                       ("etc", "dir"), ("etc/a", "file", "hi"), ("etc/fifo", "fifo")])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=12), kids, max_size=4),
    max_leaves=12,
)


@contextlib.contextmanager
def _store():
    from runtime.images.store import ImageStore

    root = tempfile.mkdtemp(prefix="vmvc-fuzz-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    try:
        yield ImageStore(root)
    finally:
        from runtime.linux import safefs

        safefs.rmtree(root)


@pytest.fixture(scope="module")
def store():
    with _store() as s:
        yield s


# -- CLI parsers ------------------------------------------------------------------------------------
words = st.sampled_from(["--cpus", "--memory", "-m", "--pids-limit", "-v", "--volume", "--name", "-e", "-u",
                         "-w", "--network", "--rm", "-it", "-d", "--label", "--entrypoint", "-h", "--init",
                         "nan", "inf", "-1", "0", "1e400", "0.5", "64m", "12x", "/a:/b", "/a:/b:ro", "a:b",
                         "/x:/", "/x:/../y", "busybox", "", "=", "--", "-"])


@FUZZ
@given(st.lists(words | st.text(max_size=12), max_size=10))
def test_run_flags_parse_to_a_spec_or_one_clean_error(argv):
    from runtime.cli.containers import _spec, parse_run_args

    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        try:
            _spec(parse_run_args("vmvc run", argv))
        except VmvcError:
            pass
        except SystemExit as e:
            assert e.code in (0, 125)


@FUZZ
@given(st.text(max_size=30))
def test_value_parsers_raise_only_vmvc_errors(text):
    from runtime.containers.spec import Spec, parse_cpus, parse_memory, parse_volume
    from runtime.images import changes, reference

    for fn in (parse_memory, parse_cpus, parse_volume, reference.normalise,
               lambda t: changes.apply({}, [t]), lambda t: Spec(t or "x", ["true"], user=t, workdir=t)):
        with contextlib.suppress(VmvcError):
            fn(text)


@FUZZ
@given(st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=5)),
       st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=5)))
def test_spec_limits_of_any_type_are_refused_cleanly(memory, cpus):
    from runtime.containers.spec import Spec

    try:
        spec = Spec("busybox", ["true"], memory=memory, cpus=cpus, pids_limit=memory)
    except VmvcError:
        return
    assert spec.cpus is None or 0 < spec.cpus <= os.cpu_count()  # never nan or inf


# -- archive readers --------------------------------------------------------------------------------
def _mutate(data: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    out = bytearray(data)
    for pos, byte in edits:
        out[pos % len(out)] = byte
    return bytes(out[:cut] if cut is not None else out)


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), max_size=12),
       st.none() | st.integers(0, len(SAMPLE_TAR)))
def test_layer_reader_on_damaged_tars(edits, cut):
    from runtime.images import layers

    with contextlib.suppress(VmvcError):
        layers.ingest(io.BytesIO(_mutate(SAMPLE_TAR, edits, cut)), None, None)


pax_keys = st.sampled_from(["GNU.sparse.map", "GNU.sparse.size", "GNU.sparse.major", "GNU.sparse.minor",
                            "GNU.sparse.realsize", "GNU.sparse.name", "GNU.sparse.numblocks",
                            "GNU.sparse.offset", "GNU.sparse.numbytes", "size", "mtime", "uid", "path",
                            "linkpath", "hdrcharset", "SCHILY.xattr.user.x", "SCHILY.xattr.trusted.x"])


@FUZZ
@given(st.dictionaries(pax_keys, st.text(alphabet="0123456789,.-abx/ \n", max_size=16), max_size=5),
       st.sampled_from([tarfile.REGTYPE, tarfile.SYMTYPE, tarfile.DIRTYPE, tarfile.GNUTYPE_SPARSE]),
       st.binary(max_size=600))
def test_layer_reader_on_hostile_pax_and_sparse_headers(headers, kind, data):
    from runtime.images import layers

    info = tarfile.TarInfo("f")
    info.type, info.size = kind, len(data)
    buf = io.BytesIO()
    try:
        info.pax_headers = headers
        buf.write(info.tobuf(tarfile.PAX_FORMAT) + data + bytes(-len(data) % 512) + bytes(1024))
    except (ValueError, UnicodeError):
        return  # tarfile itself will not write this header
    with contextlib.suppress(VmvcError):
        layers.ingest(io.BytesIO(buf.getvalue()), None, None)


@FUZZ
@given(st.binary(min_size=512, max_size=512))
def test_header_decoder_on_random_blocks(block):
    from runtime.images.layers import LimitedTarInfo

    with contextlib.suppress(VmvcError, tarfile.HeaderError):
        LimitedTarInfo.frombuf(block, "utf-8", "surrogateescape")


@FUZZ
@given(st.sampled_from(["manifest.json", "index.json"]), json_values, json_values)
def test_load_of_archives_with_any_json(store, top, manifest, config):
    from runtime.images import archives

    files = {top: json.dumps(manifest).encode(), "c.json": json.dumps(config).encode(),
             "blobs/sha256/" + "a" * 64: json.dumps(config).encode()}
    with contextlib.suppress(VmvcError):
        archives.load(store, io.BytesIO(make_tar([(n, "file", d) for n, d in files.items()])))


DOCKER_ARCHIVE = make_docker_archive([make_tar([("etc", "dir"), ("etc/a", "file", "hi")])], ["fz:1"])


@settings(FUZZ, max_examples=60)
@given(st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), max_size=10),
       st.none() | st.integers(0, len(DOCKER_ARCHIVE)))
def test_load_of_damaged_docker_archives(store, edits, cut):
    from runtime.images import archives

    with contextlib.suppress(VmvcError):
        archives.load(store, io.BytesIO(_mutate(DOCKER_ARCHIVE, edits, cut)))


@FUZZ
@given(st.binary(max_size=200))
def test_tarsplit_reader_on_damaged_skeletons(store, tail):
    from runtime.images import tarsplit

    path = os.path.join(store.tmp, "skeleton")
    with open(path, "wb") as f:
        f.write(tarsplit.MAGIC + tail)
    try:
        with tarsplit.Reader(path, store.layers, "sha256:" + "0" * 64) as reader:
            while reader.read(4096):
                pass
            reader.verify()
    except VmvcError:
        pass


@FUZZ
@given(json_values | st.binary(max_size=60).map(lambda b: b.decode("latin-1")))
def test_index_reader_on_any_content(store, value):
    from runtime.images import integrity

    path = os.path.join(store.tmp, "index.json")
    with open(path, "w") as f:
        f.write(value if isinstance(value, str) else json.dumps(value))
    with contextlib.suppress(integrity.Damaged):
        integrity.read_index(path)
