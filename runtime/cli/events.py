"""``vmvc -H unix://PATH events``: the daemon's event stream (``GET /events``) in docker's line format.

Events exist only where one process sees every change: ``vmvc daemon``. The direct path has no such
process (each ``vmvc`` command talks to the spawner and leaves), so without a host the command says
where events come from instead of pretending to have none.
"""

from __future__ import annotations

import json
import re
import sys
import time
from datetime import UTC, datetime

from runtime.cli.args import parse, parser
from runtime.errors import VmvcError

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)$")
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def no_daemon(argv: list[str]) -> int:
    """Get real time events from the daemon (needs -H / VMVC_HOST)"""
    parse(_parser(), argv)  # --help works here too
    print("vmvc: events come from 'vmvc daemon': start one and run 'vmvc -H unix://PATH events' (or set "
          "VMVC_HOST); the direct path has no event stream", file=sys.stderr)
    return 1


def timestamp(text: str, now: float | None = None) -> float:
    """docker's ``--since``/``--until``: a Unix time (``1700000000.5``), a duration before now
    (``10m``, ``1h30m``), or an RFC 3339 date or time (``2026-12-02``, ``2026-12-02T01:00:00Z``)."""
    now = time.time() if now is None else now
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    parts = re.findall(r"\d+(?:\.\d+)?(?:ns|us|ms|s|m|h)", text)
    if parts and "".join(parts) == text:
        return now - sum(float(m[1]) * _UNIT_S[m[2]] for m in map(_DURATION.match, parts))
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise VmvcError(f"invalid time {text!r}: use a Unix time, a duration (10m) or an RFC 3339 date") \
            from None
    return (when if when.tzinfo else when.astimezone()).timestamp()


def line(ev: dict) -> str:
    """docker's default event line: ``TIME TYPE ACTION ID (k=v, …)``, the time in RFC 3339 with
    nanoseconds in the local zone (``Z`` for UTC)."""
    nano = int(ev.get("timeNano") or int(ev.get("time") or 0) * 1_000_000_000)
    when = datetime.fromtimestamp(nano // 1_000_000_000, UTC).astimezone()
    offset = when.strftime("%z")
    zone = "Z" if offset in ("+0000", "") else f"{offset[:3]}:{offset[3:]}"
    actor = ev.get("Actor") or {}
    out = (f"{when.strftime('%Y-%m-%dT%H:%M:%S')}.{nano % 1_000_000_000:09d}{zone} {ev.get('Type', '')} "
           f"{ev.get('Action', '')} {actor.get('ID', '')}")
    attrs = actor.get("Attributes") or {}
    if attrs:
        out += " (" + ", ".join(f"{k}={attrs[k]}" for k in sorted(attrs)) + ")"
    return out


def _parser():
    p = parser("vmvc events", "Stream the daemon's events (container create/start/die/destroy…) until "
               "Ctrl-C or --until. Needs a daemon: -H unix://PATH or VMVC_HOST.")
    p.add_argument("--since", help="also the kept events from this time (Unix time, 10m, RFC 3339)")
    p.add_argument("--until", help="stop at this time")
    p.add_argument("-f", "--filter", action="append", default=[], metavar="KEY=VALUE",
                   help="type, event, container, image (repeatable)")
    p.add_argument("--format", help="'{{json .}}' for one JSON object per line")
    return p


def events(argv: list[str]) -> int:
    """Get real time events from the daemon"""
    from runtime.cli import remote

    a = parse(_parser(), argv)
    if a.format not in (None, "", "json", "{{json .}}"):
        raise VmvcError(f"--format {a.format!r}: only '{{{{json .}}}}' is supported")
    filters: dict[str, list[str]] = {}
    for f in a.filter:
        key, sep, value = f.partition("=")
        if not sep or not key:
            raise VmvcError(f"bad format of filter (expected name=value): {f}")
        filters.setdefault(key.strip(), []).append(value)
    since = timestamp(a.since) if a.since else None
    until = timestamp(a.until) if a.until else None
    query = {"since": since, "until": until, "filters": filters or None}
    for ev in remote._client.json_lines("GET", "/events", query):
        if until is not None and int(ev.get("timeNano") or 0) > until * 1e9:
            continue  # a kept event after --until (the daemon replays from --since)
        print(json.dumps(ev) if a.format else line(ev), flush=True)
    return 0
