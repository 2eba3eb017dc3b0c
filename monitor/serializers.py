"""JSON shapes of stored rows, shared by the API, the web pages and the reports."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Iterable

from monitor.core.durations import format_duration
from monitor.core.messages import Message
from monitor.core.standards import Standard
from monitor.schemas import clean_reason
from monitor.store.models import AlertRow, ClockRow, DeadLetter, EventRow, Notification


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def event_json(row: EventRow) -> dict[str, Any]:
    body = {"id": row.id, "case": row.case_id, "type": row.type, "at": iso(row.at), "site": row.site,
            "staff": row.staff, "attrs": row.attrs or {}, "received_at": iso(row.received_at)}
    if row.device:
        body["device"] = row.device
    return body


def clock_json(row: ClockRow) -> dict[str, Any]:
    return {"standard": row.standard_id, "version": row.version, "key": row.key, "site": row.site,
            "state": row.state, "start": iso(row.start_at), "deadline": iso(row.deadline),
            "warn_at": iso(row.warn_at), "stop": iso(row.stop_at), "cancelled_at": iso(row.cancelled_at),
            "paused_since": iso(row.paused_since), "duration_s": row.duration_s, "data_gap": row.data_gap}


def dead_letter_json(row: DeadLetter, translate: Callable[[Message], str] = str) -> dict[str, Any]:
    """``reason`` in the reader's language; the stored English text for rows without words (from
    before migration 0008), and in English (the default) it reads as stored."""
    reason = clean_reason(translate(Message.from_json(row.words))) if row.words else row.reason
    return {"id": row.id, "received_at": iso(row.received_at), "source": row.source, "reason": reason,
            "raw": row.raw}


def notification_json(row: Notification) -> dict[str, Any]:
    """SPEC §6's notification message: its alerts by id (the message itself carries them whole)."""
    return {"id": row.id, "receiver": row.receiver, "alerts": [c["alert"]["id"] for c in row.changes],
            "state": row.state, "attempts": row.attempts, "last_error": row.last_error,
            "created_at": iso(row.created_at), "delivered_at": iso(row.delivered_at)}


def alert_json(row: AlertRow) -> dict[str, Any]:
    """SPEC §5's alert object."""
    return {
        "id": row.id, "kind": row.kind, "standard": row.standard_id, "version": row.version, "site": row.site,
        "case": row.case_id, "key": row.key, "step": row.step, "state": row.state,
        "due_at": iso(row.due_at), "opened_at": iso(row.opened_at), "to": row.to,
        "acknowledged_by": row.acknowledged_by, "acknowledged_at": iso(row.acknowledged_at), "note": row.note,
        "resolved_at": iso(row.resolved_at), "resolution": row.resolution,
    }


def standard_json(standard: Standard) -> dict[str, Any]:
    """A standard as listed by the API: its rule in plain fields, its file and version."""
    return {
        "id": standard.id, "name": standard.name, "description": standard.description, "file": standard.file,
        "version": standard.version,
        "start": [{"event": c.event, "unless": c.unless} for c in standard.start],
        "stop": list(standard.stop),
        "within": format_duration(standard.within) if standard.within else None,
        "deadline_attr": standard.deadline_attr,
        "warn_after": format_duration(standard.warn_after) if standard.warn_after else None,
        "cancel_on": list(standard.cancel_on),
        "escalate": [{"after": format_duration(s.after), "to": s.to, "even_if_acknowledged": s.even_if_acknowledged}
                     for s in standard.escalate],
        "calendar": standard.calendar.name if standard.calendar else None,
        "goal": {"ratio": standard.goal.ratio, "per": standard.goal.per},
        "owner": standard.owner, "customer_need": standard.customer_need,
        "review_by": standard.review_by.isoformat() if standard.review_by else None,
    }


def case_json(case: str, events: Iterable[Any], clocks: Iterable[Any]) -> dict[str, Any]:
    """SPEC §6 ``GET /cases/{case}``: the case's events and every clock judged on them."""
    return {"case": case, "events": [event_json(e) for e in events], "clocks": [clock_json(c) for c in clocks]}
