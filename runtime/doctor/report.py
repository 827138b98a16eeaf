"""What the doctor found: one :class:`Check` per host fact, gathered in a :class:`Report`.

Other parts ask the report, not the host, what they may do (``report.ready("qemu")``); tests turn
a missing capability into a skip with the check's own evidence as the reason.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

READY, DEGRADED, MISSING = "ready", "degraded", "missing"


@dataclass
class Check:
    name: str                 # capability key, e.g. "ns.pid", "overlayfs", "qemu"
    group: str                # table section: system, containers, cgroups, vm, tools
    verdict: str              # ready | degraded | missing
    evidence: str             # what was read or tried
    advice: str = ""          # what the user can do about it
    data: dict = field(default_factory=dict)

    @property
    def usable(self) -> bool:
        """Ready or degraded: the thing works, perhaps with limits the evidence names."""
        return self.verdict in (READY, DEGRADED)


class Report:
    def __init__(self, checks: list[Check], seconds: float = 0.0) -> None:
        self.checks = list(checks)
        self.seconds = seconds
        self._by_name = {c.name: c for c in self.checks}

    def __getitem__(self, name: str) -> Check:
        return self._by_name[name]

    def get(self, name: str) -> Check | None:
        return self._by_name.get(name)

    def ready(self, name: str) -> bool:
        check = self._by_name.get(name)
        return bool(check and check.usable)

    def reason(self, name: str) -> str:
        check = self._by_name.get(name)
        if check is None:
            return f"{name}: not probed"
        text = f"{name} {check.verdict}: {check.evidence}"
        return f"{text} ({check.advice})" if check.advice and not check.usable else text

    def to_dict(self) -> dict:
        return {
            "seconds": round(self.seconds, 3),
            "checks": [asdict(c) for c in self.checks],
            "ready": {c.name: c.usable for c in self.checks},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)
