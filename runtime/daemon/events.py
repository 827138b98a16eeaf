"""``GET /events``: what happened, as docker streams it (one JSON object per line).

Every handler that changes state publishes an event; each ``/events`` client has its own bounded
queue, so a slow reader loses its oldest events instead of holding back the daemon.
"""

from __future__ import annotations

import asyncio
import time


class EventBus:
    def __init__(self, keep: int = 256):
        self.subscribers: set[asyncio.Queue] = set()
        self.recent: list[dict] = []
        self.keep = keep

    def publish(self, type_: str, action: str, actor_id: str, attributes: dict | None = None) -> dict:
        now = time.time_ns()
        ev = {"Type": type_, "Action": action, "Actor": {"ID": actor_id, "Attributes": attributes or {}},
              "scope": "local", "time": now // 1_000_000_000, "timeNano": now}
        if type_ == "container":  # the old fields the CLI still formats with
            ev.update(status=action, id=actor_id, From=(attributes or {}).get("image", ""))
        self.recent = (self.recent + [ev])[-self.keep:]
        for q in list(self.subscribers):
            if q.full():
                q.get_nowait()
            q.put_nowait(ev)
        return ev

    def subscribe(self) -> asyncio.Queue:
        q: asyncio.Queue = asyncio.Queue(maxsize=1024)
        self.subscribers.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue) -> None:
        self.subscribers.discard(q)


def matches(ev: dict, filters: dict) -> bool:
    """docker's event filters: type, event (action), container (id or name), image."""
    if "type" in filters and ev["Type"] not in filters["type"]:
        return False
    if "event" in filters and ev["Action"] not in filters["event"]:
        return False
    attrs = ev["Actor"]["Attributes"]
    if "container" in filters:
        want = filters["container"]
        if ev["Type"] != "container" or not (
            attrs.get("name") in want or any(ev["Actor"]["ID"].startswith(w) for w in want)
        ):
            return False
    if "image" in filters and attrs.get("image") not in filters["image"]:
        return False
    return True
