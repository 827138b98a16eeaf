"""The Dockerfile parser and .dockerignore patterns (pure logic, no root)."""

from __future__ import annotations

import pytest

from runtime.build.context import Ignore
from runtime.build.dockerfile import DockerfileError, key_values, parse, substitute


def test_continuations_comments_forms_and_flags():
    text = ("# escape=\\\n# a comment\nFROM busybox AS b\nRUN echo one \\\n  # inside\n  two\n"
            'CMD ["sh", "-c", "echo hi"]\nCOPY --from=b --chown=1:2 /a /b\nENTRYPOINT echo x\n')
    insts = parse(text)
    assert [i.cmd for i in insts] == ["FROM", "RUN", "CMD", "COPY", "ENTRYPOINT"]
    assert insts[1].args == ["echo one    two"] and insts[1].line == 4
    assert insts[2].json_form and insts[2].args == ["sh", "-c", "echo hi"]
    assert insts[3].flags == {"from": "b", "chown": "1:2"} and insts[3].args == ["/a", "/b"]
    assert not insts[4].json_form and insts[4].args == ["echo x"]
    assert insts[3].original() == "COPY --from=b --chown=1:2 /a /b"


def test_escape_directive_backtick():
    insts = parse("# escape=`\nFROM busybox\nRUN echo a `\n b\n")
    assert insts[1].args == ["echo a   b"]


@pytest.mark.parametrize("text,line,words", [
    ("FROM busybox\nFOO bar\n", 2, "unknown instruction: FOO"),
    ("FROM busybox\nCOPY --bogus=1 a b\n", 2, "unknown flag: --bogus"),
    ("FROM busybox\nRUN\n", 2, "RUN requires at least one argument"),
    ("# only a comment\n", 0, "no instructions"),
    ("FROM busybox\nSHELL /bin/bash\n", 2, "SHELL requires the arguments to be in JSON form"),
])
def test_errors_name_the_line(text, line, words):
    with pytest.raises(DockerfileError) as e:
        parse(text)
    assert e.value.line == line and words in str(e.value)
    assert str(e.value).startswith(f"Dockerfile:{line}:" if line else "Dockerfile:")


def test_substitution_and_key_values():
    env = {"A": "1", "EMPTY": ""}
    assert substitute("$A ${A} ${B:-dflt} ${A:+alt} ${EMPTY:-e} \\$A", env) == "1 1 dflt alt e $A"
    (inst,) = parse('ENV K=v K2="two words" K3=$A\n')
    assert key_values(inst, env) == [("K", "v"), ("K2", "two words"), ("K3", "1")]
    (old,) = parse("ENV KEY some value\n")
    assert key_values(old, env) == [("KEY", "some value")]


def test_dockerignore(tmp_path):
    (tmp_path / ".dockerignore").write_text("# c\n*.log\n**/tmp\ndocs/**\n!docs/keep.md\n")
    ig = Ignore(str(tmp_path))
    assert ig.ignored("a.log") and not ig.ignored("d/a.log")
    assert ig.ignored("x/y/tmp") and ig.ignored("tmp/file")
    assert ig.ignored("docs/a/b.md") and not ig.ignored("docs/keep.md")
