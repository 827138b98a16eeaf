"""The tutorial's claims C1-C13 (docs/claims.md) and how the report's claims table is made.

Each suite's ``claims(res)`` gives rows for the claims it has evidence for, with numbers from this run.
:func:`merge` folds several suites' rows for one claim into one row, and fills every claim that no suite
spoke to with a *not measured here* row that says why: the suite that would measure it was skipped,
failed, not selected or interrupted, or the feature it needs does not exist yet (which issue). The table
therefore always has C1..C13, in order.
"""

from __future__ import annotations

from benchmarks.suite import VERDICTS, ClaimRow

# id -> (what the tutorial says, its key term, the published figure shown beside the measurement)
CLAIMS: dict[str, tuple[str, str, str]] = {
    "C1": ("VMs take a lot of resources", "资源占用多", "Firecracker <=5 MiB VMM overhead; LightVM"),
    "C2": ("VMs repeat many steps", "冗余步骤多", ""),
    "C3": ("VMs start slowly", "启动很慢", "Firecracker <=125 ms to user space (KVM)"),
    "C4": ("a container has no kernel of its own and no virtual hardware", "没有自己的内核, 没有虚拟硬件",
           ""),
    "C5": ("containers are isolated from each other, each with its own filesystem", "相互隔离", ""),
    "C6": ("one image makes many containers", "镜像 → 容器", ""),
    "C7": ("fewer abstraction layers, no hypervisor: better CPU and memory efficiency", "更少的抽象层",
           "Felter et al. 2015: LINPACK native 290.8 / Docker 290.9 / KVM 284.2 GFLOPS; random I/O KVM about "
           "half of native"),
    "C8": ("a container uses the host's kernel, no guest OS to load", "利用宿主机的内核, 不需要 Guest OS",
           ""),
    "C9": ("creating a VM takes minutes, a container seconds", "分钟级别 vs 几秒钟", ""),
    "C10": ("easier upgrades and scaling", "更便捷的升级和扩缩容", ""),
    "C11": ("more efficient use of computing resources", "更高效的计算资源利用", ""),
    "C12": ("a registry mirror speeds up pulls", "镜像加速, registry-mirrors", ""),
    "C13": ("Docker is client-server: a daemon, a REST API, a CLI over a socket", "Client-Server 结构",
            "dockerd's own docker run --rm time, measured"),
}

# Claims whose evidence needs a feature that is still open work, and which issue brings it.
NEEDS_FEATURE = {
    "C9": "needs a full Debian VM built from nothing (issue 13)",
    "C12": "needs the registry work: vmvc pull and registry-mirrors (issue 15)",
    "C13": "needs vmvc's daemon with the Docker Engine API (issue 14)",
    "C5": "the security suite counts escape attempts from inside a container; isolation between "
          "containers (PID, hostname, filesystem, limits) is checked by the test suite (tests/containers, "
          "tests/security), which gives pass/fail, not numbers",
}

# Claims whose suite is written separately: if it is not installed, the table says which suite to add.
EXPECTED_SUITE = {"C1": "footprint", "C6": "footprint", "C7": "workload", "C10": "storm", "C11": "footprint"}


def combine(claim: str, rows: list[ClaimRow]) -> ClaimRow:
    """One row from several suites' rows for the same claim.

    Rows that measured something win over *not measured* ones; if they agree, that verdict stands; if
    they disagree, the claim is *reproduced with a caveat* and every suite's reason is kept.
    """
    published = CLAIMS.get(claim, ("", "", ""))[2]
    published = next((r.published for r in rows if r.published), published)
    measured = [r for r in rows if r.verdict != "not measured here"]
    chosen = measured or rows
    verdicts = {r.verdict for r in chosen}
    if len(verdicts) == 1:
        verdict = verdicts.pop()
    elif verdicts <= {"reproduced", "reproduced with a caveat"} or "reproduced" in verdicts:
        verdict = "reproduced with a caveat"
    else:
        verdict = "not reproduced here"
    measured_text = "; ".join(r.measured for r in chosen if r.measured)
    reasons = [r.reason for r in chosen if r.reason]
    if len(verdicts) > 1 and not reasons:
        reasons = ["the suites disagree: " + ", ".join(f"{r.verdict}" for r in chosen)]
    return ClaimRow(claim, measured_text, verdict, "; ".join(dict.fromkeys(reasons)), published)


def missing_reason(claim: str, suites: dict[str, dict], declared: dict[str, list[str]]) -> str:
    """Why no suite gave a row for ``claim``: the status of the suites that declare it, or the missing
    feature, or that no suite measures it yet."""
    owners = [n for n, ids in declared.items() if claim in ids]
    for name in owners:
        entry = suites.get(name)
        if entry is None:
            return f"the {name} suite was not selected in this run"
        if entry.get("status") != "ok":
            why = entry.get("reason") or entry.get("status")
            return f"the {name} suite {entry.get('status')}: {why}"
    if claim in NEEDS_FEATURE:
        return NEEDS_FEATURE[claim]
    if owners:
        return f"the {', '.join(owners)} suite gave no evidence for it in this run"
    if claim in EXPECTED_SUITE:
        suite = EXPECTED_SUITE[claim]
        return f"the {suite} suite (benchmarks/suites/{suite}.py) is not installed"
    return "no suite measures this yet"


def merge(per_suite: dict[str, list[ClaimRow]], suites: dict[str, dict],
          declared: dict[str, list[str]] | None = None) -> list[ClaimRow]:
    """The claims table, C1..C13 in order (plus any other ids suites used, after them).

    ``per_suite``: {suite: rows from its ``claims(res)``}; ``suites``: results' suite statuses;
    ``declared``: {suite: CLAIMS it declares}, to say why a claim has no row.
    """
    declared = declared if declared is not None else {n: e.get("claims", []) for n, e in suites.items()}
    by_claim: dict[str, list[ClaimRow]] = {}
    for rows in per_suite.values():
        for row in rows:
            by_claim.setdefault(row.id, []).append(row)
    ids = list(CLAIMS) + sorted(set(by_claim) - set(CLAIMS))
    table = []
    for claim in ids:
        if by_claim.get(claim):
            table.append(combine(claim, by_claim[claim]))
        else:
            table.append(ClaimRow(claim, "", "not measured here", missing_reason(claim, suites, declared),
                                  CLAIMS.get(claim, ("", "", ""))[2]))
    return table


def evaluate(res, suites_found: dict) -> list[ClaimRow]:
    """Ask every suite module that has results (or a ``claims`` function) for its rows; a suite whose
    ``claims`` raises is noted in its status and gives no row. Returns the merged table."""
    from benchmarks.runner import one_line

    per_suite: dict[str, list[ClaimRow]] = {}
    for name, entry in res.suites.items():
        info = suites_found.get(name)
        fn = getattr(info.module, "claims", None) if info and info.module else None
        if fn is None or entry.get("status") in ("skipped", "not run"):
            continue
        try:
            rows = list(fn(res) or [])
            bad = [r for r in rows if r.verdict not in VERDICTS]
            if bad:
                raise ValueError(f"unknown verdict {bad[0].verdict!r}")
            per_suite[name] = rows
        except Exception as e:
            entry["claims_error"] = one_line(e)
    declared = {n: list(e.get("claims", [])) for n, e in res.suites.items()}
    for name, info in suites_found.items():
        declared.setdefault(name, list(info.claims))
    return merge(per_suite, res.suites, declared)


def title(claim: str) -> str:
    text, term, _ = CLAIMS.get(claim, (claim, "", ""))
    return f"{text} ({term})" if term else text
