"""Message bodies: our JSON (SPEC §5.1) and the chat platforms' incoming-webhook payloads (pure).

The chat formats carry the same content as text: a header naming the group and what happened, then
one line per alert. Each platform limits a message's size, so long groups are cut with a count of
what was left out (the delivery log and the JSON format always carry every alert).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections import Counter
from datetime import datetime, tzinfo
from typing import Any, Callable, Mapping

from monitor.notify.channel import Batch

#: Most bytes of text each platform takes in one message (WeCom's text limit is 2048 bytes).
TEXT_LIMITS = {"wecom": 2000, "dingtalk": 19000, "feishu": 30000, "slack": 39000, "email": 200_000}
MAX_LINES = 50
ZoneOf = Callable[[str], tzinfo]


def json_body(batch: Batch, sent_at: datetime) -> dict[str, Any]:
    return {"id": batch.id, "receiver": batch.receiver, "group": dict(batch.group), "alerts": batch.alerts,
            "sent_at": sent_at.isoformat().replace("+00:00", "Z")}


def _local(value: str | None, zone: tzinfo) -> str:
    if not value:
        return "-"
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def subject(batch: Batch) -> str:
    alerts = batch.alerts
    states = Counter(a["state"] for a in alerts)
    kinds = Counter(a["kind"] for a in alerts if a["state"] == "open")
    where = ", ".join(f"{k}={v}" for k, v in batch.group.items() if v) or "all sites"
    what = ", ".join(f"{n} {state}" for state, n in states.items())
    detail = f" ({', '.join(f'{n} {kind}' for kind, n in kinds.items())})" if kinds else ""
    return f"[smartmon] {where}: {len(alerts)} alert{'s' if len(alerts) != 1 else ''}, {what}{detail}"


def alert_line(alert: Mapping[str, Any], zone: tzinfo) -> str:
    state = alert["state"]
    if state == "acknowledged" and alert.get("acknowledged_by"):
        state += f" by {alert['acknowledged_by']}" + (f" ({alert['note']})" if alert.get("note") else "")
    elif state in ("resolved", "retracted") and alert.get("resolution"):
        state = f"{state} ({alert['resolution']})" if alert["resolution"] != state else state
    to = f" → {alert['to']}" if alert.get("to") else ""
    return (f"- {alert['kind'].upper()} {alert['standard']} · case {alert['case']} · {alert['site']} · "
            f"due {_local(alert.get('due_at'), zone)} · {state}{to}")


def text(batch: Batch, zone_of: ZoneOf, limit: int) -> str:
    """The header and one line per alert, cut to ``limit`` bytes of UTF-8."""
    head = subject(batch)
    tail = f"message {batch.id}"
    lines = [alert_line(a, zone_of(a.get("site") or "")) for a in batch.alerts]
    shown = lines[:MAX_LINES]
    while True:
        left_out = len(lines) - len(shown)
        more = [f"… and {left_out} more (see the delivery log)"] if left_out else []
        body = "\n".join([head, *shown, *more, tail])
        if len(body.encode()) <= limit or not shown:
            return body
        shown = shown[:-1]


def chat_body(fmt: str, batch: Batch, zone_of: ZoneOf, secret: str, now: datetime) -> tuple[dict[str, Any], dict[str, str]]:
    """The platform's payload and the query parameters it wants (DingTalk's signature goes there)."""
    content = text(batch, zone_of, TEXT_LIMITS[fmt])
    if fmt == "wecom":
        return {"msgtype": "text", "text": {"content": content}}, {}
    if fmt == "slack":
        return {"text": content}, {}
    if fmt == "dingtalk":
        params = {}
        if secret:  # DingTalk's own signing: HMAC-SHA256 of "timestamp\nsecret", in the query
            stamp = str(int(now.timestamp() * 1000))
            digest = hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(), hashlib.sha256).digest()
            params = {"timestamp": stamp, "sign": base64.b64encode(digest).decode()}
        return {"msgtype": "text", "text": {"content": content}}, params
    if fmt == "feishu":
        body: dict[str, Any] = {"msg_type": "text", "content": {"text": content}}
        if secret:  # Feishu's own signing: HMAC-SHA256 keyed with "timestamp\nsecret" over nothing
            stamp = str(int(now.timestamp()))
            digest = hmac.new(f"{stamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
            body.update(timestamp=stamp, sign=base64.b64encode(digest).decode())
        return body, {}
    raise ValueError(f"unknown chat format {fmt!r}")


def signature(secret: str, body: bytes) -> str:
    """``X-Smartmon-Signature`` (as GitHub's ``X-Hub-Signature-256``)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def encode(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
