"""Malicious layer archives are rejected, name the bad entry, and leave the store unchanged."""

import io
import os
import tarfile

import pytest

from runtime.cli.main import main
from runtime.errors import VmvcError
from runtime.images import layers
from tests.images.helpers import make_tar


def store_state(store) -> list[str]:
    """Every path in the store except the lock file (what a failed import must not change)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(store.root):
        for name in dirnames + filenames:
            rel = os.path.relpath(os.path.join(dirpath, name), store.root)
            if rel != "lock":
                found.append(rel)
    return sorted(found)


def _pax_bomb() -> bytes:
    """A pax extended header claiming 64 MiB (tarfile would read it all into memory)."""
    hdr = tarfile.TarInfo("PaxHeaders/evil")
    hdr.type = tarfile.XHDTYPE
    hdr.size = 64 << 20
    return hdr.tobuf(format=tarfile.USTAR_FORMAT) + b"0" * 1024


def _long_name_bomb() -> bytes:
    hdr = tarfile.TarInfo("././@LongLink")
    hdr.type = tarfile.GNUTYPE_LONGNAME
    hdr.size = 8 << 20
    return hdr.tobuf(format=tarfile.USTAR_FORMAT) + b"a" * 1024


def _overlay_xattr() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo("redirected")
        info.type = tarfile.DIRTYPE
        info.pax_headers = {"SCHILY.xattr.trusted.overlay.redirect": "/etc"}
        tf.addfile(info)
    return buf.getvalue()


EVIL = {
    "overlay-xattr": (_overlay_xattr(), "redirected"),
    "dotdot": (make_tar([("a", "dir"), ("a/../../escaped", "file", "x")]), "a/../../escaped"),
    "absolute": (make_tar([("/etc/vmvc-evil", "file", "x")]), "/etc/vmvc-evil"),
    "symlink-escape": (make_tar([("d", "dir"), ("d/up", "symlink", "../../../../etc")]), "d/up"),
    "hardlink-escape": (make_tar([("h", "link", "../../etc/passwd")]), "h"),
    "hardlink-absolute": (make_tar([("h", "link", "/etc/passwd")]), "h"),
    "write-through-symlink": (make_tar([("lnk", "symlink", "/tmp"), ("lnk/vmvc-planted", "file", "x")]),
                              "lnk/vmvc-planted"),
    "dir-through-symlink": (make_tar([("lnk", "symlink", "/"), ("lnk/etc", "dir")]), "lnk/etc"),
    "hardlink-through-symlink": (make_tar([("lnk", "symlink", "/"), ("h", "link", "lnk/etc/shadow")]), "h"),
    "overwrite-symlink": (make_tar([("lnk", "symlink", "/etc/passwd"), ("lnk", "file", "x")]), "lnk"),
    "device-node": (make_tar([("dev", "dir"), ("dev/mem", "chr")]), "dev/mem"),
    "pax-bomb": (_pax_bomb(), "PaxHeaders/evil"),
    "longname-bomb": (_long_name_bomb(), "@LongLink"),
}


@pytest.mark.parametrize("kind", sorted(EVIL))
def test_malicious_archive_is_rejected_and_store_unchanged(store, kind):
    store.resolve("hello-world")  # a store with something in it
    before = store_state(store)
    data, entry = EVIL[kind]
    with pytest.raises(layers.UnsafeArchive) as err:
        store.import_tar(io.BytesIO(data), "evil:1")
    assert entry in str(err.value)
    assert store_state(store) == before
    assert store.find("evil:1") is None
    assert not os.path.exists("/tmp/vmvc-planted") and not os.path.exists("/etc/vmvc-evil")


def test_cli_reports_one_line_and_exit_125(store, tmp_path, capsys):
    bad = tmp_path / "evil.tar"
    bad.write_bytes(EVIL["dotdot"][0])
    assert main(["import", str(bad), "evil"]) == 125
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "a/../../escaped" in err[0] and err[0].startswith("vmvc: ")


def test_garbage_is_not_a_layer(store):
    with pytest.raises(VmvcError, match="not a valid layer tar"):
        store.import_tar(io.BytesIO(b"\x1f\x8b" + b"junk" * 100), "junk")
    assert store.images() == []


def test_ctrl_c_in_the_middle_of_an_import_leaves_nothing(store, monkeypatch, no_leaks):
    store.resolve("hello-world")
    before = store_state(store)
    real_check, seen = layers._Checker.check, []

    def interrupted(self, member):
        seen.append(member.name)
        if len(seen) == 50:  # tar is already extracting the first entries
            raise KeyboardInterrupt
        return real_check(self, member)

    monkeypatch.setattr(layers._Checker, "check", interrupted)
    data = make_tar([(f"f{i}", "file", "x" * 5000) for i in range(100)])
    with pytest.raises(KeyboardInterrupt):
        store.import_tar(io.BytesIO(data), "half")
    assert store_state(store) == before  # and no_leaks: the tar child was reaped


def test_junk_after_the_last_entry_is_refused(store):
    data = make_tar([("a", "file", "1")])
    hidden = make_tar([("/etc/vmvc-evil", "file", "x")])
    # a corrupt block where the end marker belongs, then a header tarfile would never read
    forged = data[:1024] + b"\xff" * 512 + hidden
    with pytest.raises(VmvcError, match="unreadable header"):
        store.import_tar(io.BytesIO(forged), "forged")
    assert store.images() == []


def test_relative_symlinks_inside_and_absolute_ones_are_fine(store):
    img = store.import_tar(io.BytesIO(make_tar([
        ("usr", "dir"), ("usr/lib", "dir"), ("lib", "symlink", "usr/lib"),
        ("usr/lib/x", "symlink", "../../lib"),
        ("etc", "dir"), ("etc/localtime", "symlink", "/usr/share/zoneinfo/UTC"), ("a", "file", "1"),
        ("b", "link", "a")])), "fine")
    top = img.layer_dirs[0]
    assert os.readlink(os.path.join(top, "etc/localtime")) == "/usr/share/zoneinfo/UTC"
    assert os.stat(os.path.join(top, "a")).st_ino == os.stat(os.path.join(top, "b")).st_ino


@pytest.mark.root
def test_owners_modes_setuid_and_xattrs_are_kept(store):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo("suid")
        info.mode, info.uid, info.gid, info.size = 0o4755, 1234, 5678, 2
        info.pax_headers = {"SCHILY.xattr.user.vmvc": "yes"}
        tf.addfile(info, io.BytesIO(b"#!"))
    img = store.import_tar(io.BytesIO(buf.getvalue()), "owners")
    st = os.stat(os.path.join(img.layer_dirs[0], "suid"))
    assert (st.st_uid, st.st_gid) == (1234, 5678)
    assert st.st_mode & 0o7777 == 0o4755
    assert os.getxattr(os.path.join(img.layer_dirs[0], "suid"), "user.vmvc") == b"yes"
