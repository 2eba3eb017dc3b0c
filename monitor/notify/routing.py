"""Which route an alert change takes, which group it joins, and when that group sends (pure).

As Alertmanager: routes are tried in order and the first that matches wins; a matched change joins
the group named by the route's ``group_by`` labels; a new group waits ``group_wait`` to collect its
first message, then sends at most once per ``group_interval``. A group that has been quiet for a
``group_interval`` or longer is new again, so the next lunch rush is collected again.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any, Mapping, Sequence

from monitor.notify.config import Match, Route

#: Changes that tell of an alert needing someone; the others only reach routes with send_resolved.
OPENING = ("opened", "escalated", "reopened")
_LABEL = {"site": "site", "standard": "standard", "kind": "kind", "to": "to", "case": "case"}


def matches(match: Match, alert: Mapping[str, Any]) -> bool:
    if match.sites is not None and not any(fnmatchcase(alert.get("site") or "", g) for g in match.sites):
        return False
    if match.standards is not None and not any(fnmatchcase(alert.get("standard") or "", g) for g in match.standards):
        return False
    if match.kinds is not None and alert.get("kind") not in match.kinds:
        return False
    return match.to is None or alert.get("to") in match.to


def route_for(routes: Sequence[Route], alert: Mapping[str, Any]) -> tuple[int, Route] | None:
    """The first matching route and its position, or None: the alert reaches the board and MQTT only."""
    for index, route in enumerate(routes):
        if matches(route.match, alert):
            return index, route
    return None


def takes(route: Route, action: str) -> bool:
    return action in OPENING or route.send_resolved


def group_labels(route: Route, alert: Mapping[str, Any]) -> dict[str, str]:
    return {key: str(alert.get(_LABEL[key]) or "") for key in route.group_by}


def group_key(labels: Mapping[str, str]) -> str:
    return hashlib.sha256(json.dumps(labels, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def flush_at(route: Route, now: datetime, last_sent_at: datetime | None) -> datetime:
    """When a group that had nothing waiting, and now has, sends its next message."""
    if last_sent_at is None or now - last_sent_at >= route.group_interval:
        return now + route.group_wait
    return max(now + route.group_wait, last_sent_at + route.group_interval)


def latest_per_alert(changes: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A message carries each alert once, in its latest state, in the order the alerts changed."""
    latest: dict[str, Mapping[str, Any]] = {}
    for change in sorted(changes, key=lambda c: c["seq"]):
        latest.pop(change["alert"]["id"], None)
        latest[change["alert"]["id"]] = change
    return [dict(c) for c in latest.values()]
