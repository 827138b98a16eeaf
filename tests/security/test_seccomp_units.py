"""The seccomp compiler and profile loader, checked by running the BPF they produce in an emulator.

:func:`runtime.security.bpf.run` executes a filter the way the kernel does, so every outcome below is
what the kernel would decide for that ``seccomp_data``; the real-kernel tests are in
``test_confinement.py``.
"""

from __future__ import annotations

import json
import random
import struct

import pytest

from runtime.security import bpf, options, profile, seccomp
from runtime.security.profile import ALLOW, ProfileError
from runtime.security.x86_64 import AUDIT_ARCH_X86_64, NUMBERS

EPERM = 0x00050001
KILL = 0x80000000
CLONE_NEWUSER, CLONE_NEWNS = 0x10000000, 0x00020000


def data(nr, *args, arch=AUDIT_ARCH_X86_64) -> bytes:
    nr = NUMBERS[nr] if isinstance(nr, str) else nr
    args = list(args) + [0] * (6 - len(args))
    return struct.pack("=IIQ6Q", nr, arch, 0, *args)


@pytest.fixture(scope="module")
def default():
    return seccomp.default_filter().code


def decide(code, *a, **kw) -> int:
    return bpf.run(code, data(*a, **kw))


@pytest.mark.parametrize(
    "call",
    [("unshare", CLONE_NEWUSER), ("setns", 3, 0), ("mount",), ("umount2",), ("keyctl", 0), ("add_key",),
     ("request_key",), ("bpf",), ("perf_event_open",), ("open_by_handle_at",), ("init_module",),
     ("kexec_load",), ("reboot",), ("pivot_root",), ("userfaultfd",), ("fsopen",),
     ("clone", CLONE_NEWUSER | 17), ("clone", CLONE_NEWNS), ("personality", 1), ("socket", 40),
     ("socket", 38), ("io_uring_setup",), ("sethostname",), ("swapon",), ("acct",), ("iopl",),
     ("settimeofday",)],
)
def test_dockers_default_profile_refuses_with_eperm(default, call):
    assert decide(default, *call) == EPERM


@pytest.mark.parametrize(
    "call",
    [("read",), ("write",), ("execve",), ("execveat",), ("clone", 17), ("fork",), ("vfork",),
     ("socket", 1), ("socket", 2), ("socket", 10), ("socket", 16), ("socket", 39), ("personality", 0),
     ("personality", 8), ("personality", 0x20000), ("personality", 0xFFFFFFFF), ("mkdir",), ("prctl",),
     ("arch_prctl",), ("seccomp",), ("capset",), ("ptrace",), ("wait4",)],
)
def test_dockers_default_profile_allows_what_programs_need(default, call):
    assert decide(default, *call) == ALLOW


def test_clone3_says_enosys_so_libc_falls_back_to_clone(default):
    assert decide(default, "clone3") == 0x00050000 | 38


def test_foreign_architectures_and_x32_are_killed(default):
    assert decide(default, 0, arch=0x40000003) == KILL  # i386 (int 0x80): other numbers
    assert decide(default, 0x40000000 | NUMBERS["read"]) == KILL  # x32
    assert decide(default, 0x7FFFFFFF) == KILL


def test_unknown_and_future_syscall_numbers_get_the_default_action(default):
    assert decide(default, max(NUMBERS.values()) + 1) == EPERM
    assert decide(default, 0x3FFFFFFF) == EPERM


def test_the_upper_half_of_a_64_bit_argument_counts(default):
    assert decide(default, "personality", 1 << 32) == EPERM  # not 0: EQ compares all 64 bits
    assert decide(default, "clone", (1 << 40) | 17) == ALLOW  # masked: only the namespace bits


def _rules_profile(op, value, two=0):
    return {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 2, "value": value, "valueTwo": two, "op": op}]}]}


OPS = {
    "SCMP_CMP_EQ": lambda a, v, t: a == v,
    "SCMP_CMP_NE": lambda a, v, t: a != v,
    "SCMP_CMP_LT": lambda a, v, t: a < v,
    "SCMP_CMP_LE": lambda a, v, t: a <= v,
    "SCMP_CMP_GT": lambda a, v, t: a > v,
    "SCMP_CMP_GE": lambda a, v, t: a >= v,
    "SCMP_CMP_MASKED_EQ": lambda a, v, t: a & v == t,
}


@pytest.mark.parametrize("op", sorted(OPS))
def test_64_bit_comparisons_match_their_definition(op):
    edges = [0, 1, 39, 40, 41, (1 << 32) - 1, 1 << 32, (1 << 32) + 40, (1 << 63), (1 << 64) - 1]
    rng = random.Random(7)
    values = edges + [rng.getrandbits(rng.choice((8, 33, 64))) for _ in range(12)]
    for v in values[:14]:
        two = v & 0xF0F0F0F0F0F0F0F0
        code = seccomp.compile_profile(profile.load(_rules_profile(op, v, two)), ())
        for a in values:
            want = ALLOW if OPS[op](a, v, two) else EPERM
            assert decide(code, "read", 0, 0, a) == want, (op, hex(v), hex(a))


def test_far_jumps_get_trampolines():
    """Many argument rules make leaves longer than a conditional jump reaches (255)."""
    calls = [{"names": [name], "action": "SCMP_ACT_ALLOW",
              "args": [{"index": 0, "value": i, "op": "SCMP_CMP_EQ"}]}
             for name in ("read", "write", "openat", "close") for i in range(40)]
    code = seccomp.compile_profile(profile.load({"defaultAction": "SCMP_ACT_KILL_PROCESS",
                                                 "syscalls": calls}), ())
    assert len(code) // 8 > 600
    assert any(op == bpf.JA for op, *_ in bpf.disassemble(code))
    for name in ("read", "write", "openat", "close"):
        assert decide(code, name, 39) == ALLOW
        assert decide(code, name, 40) == KILL
    assert decide(code, "mkdir", 0) == KILL


def test_caps_arches_and_kernel_select_rules():
    p = profile.load({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
        {"names": ["chroot"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
        {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}},
        {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm64"]}},
        {"names": ["kcmp"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "99.0"}},
        {"names": ["chown32", "no_such_call"], "action": "SCMP_ACT_ALLOW"},
    ]})
    with_admin = seccomp.compile_rules(*profile.resolve(p, ["sys_admin"]))
    without = seccomp.compile_rules(*profile.resolve(p, []))
    assert decide(with_admin, "mount") == ALLOW and decide(without, "mount") == EPERM
    assert decide(with_admin, "chroot") == EPERM and decide(without, "chroot") == ALLOW
    assert decide(without, "arch_prctl") == ALLOW and decide(without, "ptrace") == EPERM
    assert decide(without, "kcmp") == EPERM


def test_a_profile_without_x86_64_is_refused():
    p = profile.load({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_AARCH64"]})
    with pytest.raises(ProfileError, match="X86_64"):
        profile.resolve(p, [])


@pytest.mark.parametrize(
    "bad, message",
    [("{", "decoding seccomp profile failed"),
     ("[]", "must be a JSON object"),
     ('{"defaultAction": "SCMP_ACT_NOTIFY"}', "unsupported action"),
     ('{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": -1}', "errnoRet"),
     ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": {}}', "syscalls must be a list"),
     ('{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_TSYNC"]}', "unknown flag"),
     ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ERRNO"}]}', "no syscall names"),
     ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ERRNO",'
      ' "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}', "index: must be 0-5"),
     ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ERRNO",'
      ' "args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]}]}', "value: must be an integer"),
     ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ERRNO",'
      ' "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_LIKE"}]}]}', "unknown operator"),
     ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ERRNO",'
      ' "includes": {"minKernel": "new"}}]}', "minKernel")],
)
def test_malformed_profiles_are_one_line_errors(bad, message):
    with pytest.raises(ProfileError) as e:
        profile.load(bad)
    assert message in str(e.value) and "\n" not in str(e.value) and e.value.exit_code == 125


def test_security_opts_parse_like_docker(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW"}))
    assert options.parse([]) is None
    assert options.parse(["seccomp=unconfined"]) == {"seccomp": "unconfined"}
    assert options.parse(["seccomp:unconfined", "no-new-privileges"]) == {
        "seccomp": "unconfined", "no_new_privileges": True}
    assert options.parse(["apparmor=unconfined", "label=disable"]) is None
    assert options.parse([], privileged=True) == {"privileged": True}
    (opt,) = options.normalized([f"seccomp={path}"])
    assert json.loads(opt.removeprefix("seccomp=")) == {"defaultAction": "SCMP_ACT_ALLOW"}
    for bad in (["bogus"], ["seccomp="], ["no-new-privileges=maybe"], [f"seccomp={tmp_path}/none.json"]):
        with pytest.raises(options.VmvcError):
            options.normalized(bad)


def test_the_filter_for_a_process():
    assert seccomp.filter_for(None) is seccomp.default_filter()
    assert seccomp.filter_for({"seccomp": "unconfined"}) is None
    assert seccomp.filter_for({"privileged": True}) is None
    custom = seccomp.filter_for({"seccomp": json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]})})
    assert decide(custom.code, "mkdirat") == EPERM and decide(custom.code, "read") == ALLOW
    assert custom.flags == 0 and seccomp.default_filter().flags == 0  # Docker's profile asks for none
    spec = seccomp.filter_for({"seccomp": json.dumps({"defaultAction": "SCMP_ACT_ALLOW",
                                                      "flags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"]})})
    assert spec.flags == 4


def test_the_default_profile_is_mobys_and_the_filter_is_small():
    p = json.load(open(profile.DEFAULT_PATH))
    assert p["defaultAction"] == "SCMP_ACT_ERRNO" and len(p["syscalls"]) > 20
    assert len(seccomp.default_filter()) < 400  # a binary search, not a 350-entry linear scan


def test_a_profile_source_that_is_no_path_or_text_is_refused_not_opened_as_a_descriptor():
    """`load(True)` once opened (and then closed) fd 1, stdout: anything but a path, JSON text or a
    parsed object is one clear error, and stdout stays open."""
    import os

    import pytest

    from runtime.security import profile

    for source in (True, 1, None, 2.5):
        with pytest.raises(profile.ProfileError, match="a path, JSON text or object"):
            profile.load(source)
    os.fstat(1)  # still open
