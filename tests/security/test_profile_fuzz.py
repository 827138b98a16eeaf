"""Hostile seccomp profiles: whatever JSON a user hands ``--security-opt seccomp=``, the loader either
refuses it with one ProfileError line or yields a profile that compiles to a valid filter."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.security import bpf, profile, seccomp

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2, 1 << 65), st.text(max_size=12),
                    st.sampled_from(["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_CMP_EQ", "SCMP_CMP_MASKED_EQ",
                                     "read", "mkdir", "clone", "CAP_SYS_ADMIN", "amd64", "4.8"]))
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
arg = st.fixed_dictionaries({"index": values, "value": values, "op": values},
                            optional={"valueTwo": values})
call = st.fixed_dictionaries({"names": values | st.lists(st.sampled_from(["read", "mkdir", "clone", "x"])),
                              "action": values},
                             optional={"args": st.lists(arg, max_size=3) | values, "errnoRet": values,
                                       "includes": values, "excludes": values})
profiles = st.fixed_dictionaries({"defaultAction": values}, optional={
    "syscalls": st.lists(call, max_size=4) | values, "architectures": values, "archMap": values,
    "defaultErrnoRet": values, "flags": values})


@settings(max_examples=150, deadline=None)
@given(st.one_of(profiles, values))
def test_any_json_is_refused_in_one_line_or_compiles(data):
    try:
        loaded = profile.load(json.dumps(data) if isinstance(data, (dict, list)) else data)
        code = seccomp.compile_profile(loaded, ["CAP_CHOWN"])
    except profile.ProfileError as e:
        assert str(e) and "\n" not in str(e)
        return
    except (TypeError, ValueError) as e:  # only a non-string, non-dict source may get here
        assert not isinstance(data, (dict, list, str)), e
        return
    assert 0 < len(code) // 8 <= bpf.MAX_INSNS
    bpf.run(code, bytes(64))  # the program runs to a return
