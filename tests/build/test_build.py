"""vmvc build and ``DOCKER_BUILDKIT=0 docker build`` through vmvc's daemon, for real: RUN in containers,
multi-stage COPY --from, the cache, errors with line numbers, and the same tree as Debian's dockerd."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile

import pytest

from tests.daemon.conftest import REAL_PARTS

pytestmark = REAL_PARTS
VMVC = os.path.join(os.path.dirname(sys.executable), "vmvc")

DOCKERFILE = """\
# a static program copied onto busybox (hello-world's /hello is one)
ARG WHO=class
FROM hello-world AS prog
FROM busybox
ARG WHO
LABEL course=vmvc
ENV GREETING="hello ${WHO}"
WORKDIR /opt/app
COPY --from=prog /hello /usr/local/bin/hello
COPY app.sh ./
COPY data/ /data/
RUN echo "$GREETING" > /opt/app/greeting.txt && rm -f /bin/vi && mkdir -p /var/empty
CMD ["sh", "/opt/app/app.sh"]
"""


@pytest.fixture
def ctx(tmp_path):
    d = tmp_path / "ctx"
    (d / "data").mkdir(parents=True)
    (d / "Dockerfile").write_text(DOCKERFILE)
    (d / "app.sh").write_text('cat /opt/app/greeting.txt; /usr/local/bin/hello | head -2 | tail -1\n')
    (d / "data" / "a.txt").write_text("a\n")
    (d / "data" / "skip.log").write_text("ignored\n")
    (d / ".dockerignore").write_text("**/*.log\n")
    return d


def vmvc(env, *args, **kw):
    return subprocess.run([VMVC, *args], env=env, capture_output=True, text=True, timeout=300, **kw)


def test_build_run_cache_and_rebuild_from_the_touched_step(ctx, vmvc_root, no_leaks):
    env = dict(os.environ)
    try:
        r = vmvc(env, "build", "-t", "demo:1", "--build-arg", "WHO=students", str(ctx))
        assert r.returncode == 0, r.stdout + r.stderr
        assert "Successfully tagged demo:1" in r.stdout and "Step 11/11 : CMD" in r.stdout
        run = vmvc(env, "run", "--rm", "demo:1")
        assert run.returncode == 0 and run.stdout.splitlines()[0] == "hello students", run.stdout + run.stderr
        assert "Hello from vmvc!" in run.stdout
        ls = vmvc(env, "run", "--rm", "demo:1", "sh", "-c", "ls /data; ls /bin/vi 2>&1; cat /etc/hostname")
        assert "a.txt" in ls.stdout and "skip.log" not in ls.stdout and "No such file" in ls.stdout
        again = vmvc(env, "build", "-t", "demo:1", "--build-arg", "WHO=students", str(ctx))
        steps = again.stdout.count("Step ")
        assert again.stdout.count("Using cache") == steps - 3  # all but the two FROMs and the ARG
        assert "Running in" not in again.stdout
        (ctx / "app.sh").write_text("echo changed\n")
        third = vmvc(env, "build", "-t", "demo:1", "--build-arg", "WHO=students", str(ctx))
        after = third.stdout.split("COPY app.sh ./", 1)
        assert "Using cache" in after[0] and "Using cache" not in after[1] and "Running in" in after[1]
        assert vmvc(env, "run", "--rm", "demo:1").stdout == "changed\n"
        inspect = vmvc(env, "image", "inspect", "demo:1")
        assert '"course": "vmvc"' in inspect.stdout or '"course":"vmvc"' in inspect.stdout
    finally:
        vmvc(env, "system", "stop")


@pytest.mark.parametrize("dockerfile,words,line", [
    ("FROM busybox\nFOO bar\n", "unknown instruction: FOO", 2),
    ("RUN true\n", "FROM", 1),
    ("FROM busybox\nCOPY ../outside /x\n", "forbidden path outside the build context", 2),
    ("FROM busybox\nCOPY nothere /x\n", "file not found in build context", 2),
    ("FROM busybox\nRUN echo out && exit 3\n", "returned a non-zero code: 3", 2),
])
def test_bad_dockerfiles_are_one_line_with_the_line_number(tmp_path, vmvc_root, no_leaks, dockerfile, words,
                                                            line):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "Dockerfile").write_text(dockerfile)
    env = dict(os.environ)
    try:
        r = vmvc(env, "build", "-t", "bad:1", str(tmp_path / "c"))
        assert r.returncode == 1, r.stdout + r.stderr
        last = r.stderr.strip().splitlines()[-1]
        assert words in last and f"Dockerfile:{line}" in last, r.stderr
        if "exit 3" in dockerfile:
            assert "out" in r.stdout  # a failing RUN shows its output
        assert "bad" not in vmvc(env, "images").stdout  # nothing half-built is tagged
    finally:
        vmvc(env, "system", "stop")


def _tar(path, *members) -> None:
    """A tar of (name, type, linkname): regular files hold b"pwn"."""
    with tarfile.open(path, "w") as t:
        for name, kind, link in members:
            ti = tarfile.TarInfo(name)
            ti.type, ti.linkname = kind, link
            if kind == tarfile.REGTYPE:
                ti.size = 3
                t.addfile(ti, io.BytesIO(b"pwn"))
            else:
                t.addfile(ti)


def test_add_of_a_hostile_tar_stays_inside_the_image(tmp_path, vmvc_root, no_leaks):
    """ADD's tar auto-extraction: ../ and absolute names, a path through a link the tar planted, device
    nodes and hard links to host files never reach the host; what the store refuses is one line naming the
    Dockerfile line, exit 1, nothing tagged."""
    c = tmp_path / "c"
    c.mkdir()
    _tar(c / "evil.tar", ("../../../../../../tmp/h9-add-dotdot", tarfile.REGTYPE, ""),
         ("/tmp/h9-add-abs", tarfile.REGTYPE, ""), ("lnk", tarfile.SYMTYPE, "/tmp"),
         ("lnk/h9-add-through", tarfile.REGTYPE, ""), ("mem", tarfile.CHRTYPE, ""),
         ("hl", tarfile.LNKTYPE, "/etc/passwd"), ("ok", tarfile.REGTYPE, ""))
    (c / "Dockerfile").write_text("FROM busybox\nADD evil.tar /x/\n")
    env = dict(os.environ)
    try:
        r = vmvc(env, "build", "-t", "addtar:1", str(c))
        assert r.returncode == 0, r.stdout + r.stderr
        ls = vmvc(env, "run", "--rm", "addtar:1", "find", "/x")
        want = ["/x", "/x/lnk", "/x/ok", "/x/tmp", "/x/tmp/h9-add-abs"]
        assert sorted(ls.stdout.split()) == want, ls.stdout
        for p in ("/tmp/h9-add-dotdot", "/tmp/h9-add-abs", "/tmp/h9-add-through"):
            assert not os.path.exists(p)
        _tar(c / "evil.tar", ("a", tarfile.SYMTYPE, "/etc"), ("a", tarfile.DIRTYPE, ""))
        r = vmvc(env, "build", "-t", "addtar:2", str(c))
        assert r.returncode == 1, r.stdout + r.stderr
        last = r.stderr.strip().splitlines()[-1]
        assert last.startswith("vmvc: Dockerfile:2: ADD failed: unsafe layer entry"), r.stderr
        assert ["addtar", "2"] not in [ln.split()[:2] for ln in vmvc(env, "images").stdout.splitlines()]
    finally:
        vmvc(env, "system", "stop")


def flatten(archive: bytes, name: str) -> dict:
    """A docker-archive's image as {path: (type, mode, uid, gid, sha256 or link)}, its layers applied."""
    outer = tarfile.open(fileobj=io.BytesIO(archive))
    import json

    manifest = json.load(outer.extractfile("manifest.json"))
    entry = next(m for m in manifest if any(name in t for t in m.get("RepoTags") or []))
    tree: dict = {}
    for layer_name in entry["Layers"]:
        layer = tarfile.open(fileobj=outer.extractfile(layer_name))
        for m in layer:
            path = os.path.normpath(m.name.lstrip("./")) if m.name not in (".", "./") else "."
            base = os.path.basename(path)
            if base == ".wh..wh..opq":
                d = os.path.dirname(path)
                tree = {k: v for k, v in tree.items() if not k.startswith(d + "/")}
                continue
            if base.startswith(".wh."):
                gone = os.path.join(os.path.dirname(path), base[4:])
                tree = {k: v for k, v in tree.items() if k != gone and not k.startswith(gone + "/")}
                continue
            digest = hashlib.sha256(layer.extractfile(m).read()).hexdigest() if m.isreg() else m.linkname
            tree[path] = (m.type, m.mode & 0o7777, m.uid, m.gid, digest)
    return {k: v for k, v in tree.items() if k != "."}


@pytest.mark.dockerd
@pytest.mark.docker_cli
def test_the_same_tree_as_dockerds_classic_builder(ctx, tmp_path, vmvc_root):
    from benchmarks.dockerd import PrivateDockerd

    env = dict(os.environ)
    try:
        assert vmvc(env, "build", "-t", "same:1", "--build-arg", "WHO=x", str(ctx)).returncode == 0
        ours = vmvc(env, "save", "-o", str(tmp_path / "ours.tar"), "same:1")
        assert ours.returncode == 0, ours.stderr
        with PrivateDockerd() as dockerd:
            dockerd.load_from_vmvc("busybox")
            dockerd.load_from_vmvc("hello-world")
            b = subprocess.run(["docker", "build", "-t", "same:1", "--build-arg", "WHO=x", str(ctx)],
                               env={**dockerd.env, "DOCKER_BUILDKIT": "0"}, capture_output=True, text=True,
                               timeout=300)
            assert b.returncode == 0, b.stdout + b.stderr
            dockerd.docker("save", "-o", str(tmp_path / "theirs.tar"), "same:1")
        mine = flatten((tmp_path / "ours.tar").read_bytes(), "same")
        theirs = flatten((tmp_path / "theirs.tar").read_bytes(), "same")
        assert sorted(mine) == sorted(theirs)
        diff = {k: (mine[k], theirs[k]) for k in mine if mine[k] != theirs[k]}
        assert not diff
    finally:
        vmvc(env, "system", "stop")


@pytest.mark.docker_cli
def test_docker_build_through_the_daemon(ctx, vmvcd):
    env = {**vmvcd.env, "DOCKER_BUILDKIT": "0"}
    r = subprocess.run(["docker", "build", "-t", "viad:1", str(ctx)], env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Successfully tagged viad:1" in r.stdout
    run = vmvcd.docker("run", "--rm", "viad:1", check=True)
    assert run.stdout.splitlines()[0] == b"hello class"
    bad = ctx / "Dockerfile"
    bad.write_text("FROM busybox\nRUN exit 4\n")
    r = subprocess.run(["docker", "build", "-t", "viad:2", str(ctx)], env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 1 and "returned a non-zero code: 4" in r.stderr


def _post_build(sock, query, members):
    """POST /build with a tar made of ``members`` (name, data or ("symlink", target)), raw over the socket."""
    import http.client
    import socket

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            if isinstance(data, tuple):
                ti.type, ti.linkname = tarfile.SYMTYPE, data[1]
                t.addfile(ti)
            else:
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))

    class Conn(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.connect(sock)

    c = Conn("localhost", timeout=60)
    c.request("POST", "/build?" + query, body=buf.getvalue(), headers={"Content-Type": "application/x-tar"})
    r = c.getresponse()
    out = r.status, r.read().decode(errors="replace")
    c.close()
    return out


def test_a_hostile_context_cannot_make_the_daemon_read_host_files(tmp_path, vmvcd):
    """The Dockerfile and .dockerignore are read inside the context only: a ``dockerfile=../..`` query, a
    Dockerfile symlinked to a host file (its first line would come back in the 'unknown instruction' error),
    or a .dockerignore symlinked to /dev/zero never reach the host; entries with ../ stay inside."""
    secret = tmp_path / "secret"
    secret.write_text("TOPSECRET-LINE\n")
    up = "../" * 12 + str(secret).lstrip("/")
    for query, members in [(f"t=h:1&dockerfile={up}", []),
                           (f"t=h:2&dockerfile={secret}", []),
                           ("t=h:3", [("Dockerfile", ("symlink", str(secret)))]),
                           ("t=h:4", [("Dockerfile", ("symlink", "/dev/zero"))])]:
        status, body = _post_build(vmvcd.sock, query, members)
        assert status == 400 and "Cannot locate specified Dockerfile" in body, (query, status, body)
        assert "TOPSECRET" not in body
    status, body = _post_build(vmvcd.sock, "t=h:5", [
        ("Dockerfile", b"FROM busybox\nCOPY . /c\n"), (".dockerignore", ("symlink", "/dev/zero")),
        ("../../../../../../../" + str(tmp_path / "escaped").lstrip("/"), b"x")])
    assert status == 200 and "Successfully tagged h:5" in body, body
    assert not (tmp_path / "escaped").exists()
    tags = vmvcd.docker("images", "--format", "{{.Repository}}:{{.Tag}}", check=True).stdout.decode()
    assert "h:1" not in tags and "h:4" not in tags and "h:5" in tags
