"""The sources code and profiles cite live in the repo's docs/, so nothing points outside the checkout."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [p for d in ("runtime", "sim", "benchmarks", "tests", "docs", "scripts", "notebooks")
           for p in (ROOT / d).rglob("*") if p.suffix in {".py", ".md", ".json", ".toml", ".sh", ".ipynb"}]
SOURCES += [ROOT / "README.md", ROOT / "pyproject.toml"]
# Cited by work in progress elsewhere (the daemon's API notes, the model's record format): listed here so
# that any other dangling citation fails at once.
BEING_WRITTEN = {"engine-api.md", "records.md"}


def test_no_source_points_outside_the_repo():
    outside = re.compile(r"(\.\./)+shared/|/work/shared|shared/docs/")
    hits = [f"{p.relative_to(ROOT)}:{n}"
            for p in SOURCES if p.name != Path(__file__).name
            for n, line in enumerate(p.read_text().splitlines(), 1) if outside.search(line)]
    assert hits == []


def test_every_cited_doc_exists():
    citing = [p for p in SOURCES if "tests" not in p.relative_to(ROOT).parts[:1]]  # tests hold sample paths
    cited = {m for p in citing for m in re.findall(r"\bdocs/([\w.-]+\.md)\b", p.read_text())}
    assert {"host-facts.md", "anchors.md", "claims.md"} <= cited
    missing = [name for name in sorted(cited - BEING_WRITTEN) if not (ROOT / "docs" / name).is_file()]
    assert missing == []
    assert (ROOT / "docs" / "layout.md").is_file()
