"""Alert life cycle in storage, and fan-out to the channels that tell people.

Stages (as Alertmanager's notify pipeline): the pure planner decides (core/alerting.py) → this
module persists each change as an alert row plus an ``alert_actions`` record (chained into the
audit trail) → channels deliver from that log: SSE streams read it, the outbox relay
(monitor/outbox.py) publishes it to MQTT; :class:`Fanout` wakes them after a commit.
"""
from __future__ import annotations

import threading
import uuid
from datetime import datetime
from types import SimpleNamespace
from typing import Any, Sequence

from sqlalchemy.orm import Session

from monitor import metrics
from monitor.core.alerting import ACKNOWLEDGED, ESCALATION, LIVE_STATES, OPEN, RESOLVED, RETRACTED, AlertKey, AlertPlan
from monitor.core.clocks import Clock
from monitor.store import audit, bulk
from monitor.store.models import AlertAction, AlertRow
from monitor.serializers import alert_json


class AlertError(Exception):
    """An alert operation that cannot be done; ``status`` is the HTTP status it maps to."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class AlertChanges:
    """Alert changes made in one transaction, written and chained at flush time.

    New alerts and the actions go in as bulk statements (a burst of breaches opens thousands at
    once); changes to alerts already stored are made on their loaded rows.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.opened: list[dict[str, Any]] = []
        self.actions: list[dict[str, Any]] = []

    def open(self, values: dict[str, Any], action: str, now: datetime) -> None:
        self.opened.append(values)
        self.record(SimpleNamespace(**values), action, None, now)

    def record(self, row: AlertRow | SimpleNamespace, action: str, actor: str | None, now: datetime) -> None:
        self.actions.append({"alert_id": row.id, "action": action, "actor": actor, "at": now, "alert": alert_json(row)})

    def flush(self) -> list[dict[str, Any]]:
        """Write the alerts and actions, chain the actions, and return what the channels will send."""
        if not self.actions:
            return []
        self.session.flush()
        bulk.insert_rows(self.session, AlertRow, self.opened)
        # Numbered under the chain lock, so actions commit in ``seq`` order: a channel reading on
        # from the last seq it sent never passes one that another worker commits later.
        audit.lock_chain(self.session)
        for action, seq in zip(self.actions, bulk.allocate_keys(self.session, AlertAction.seq, len(self.actions))):
            action["seq"] = seq
        bulk.insert_rows(self.session, AlertAction, self.actions)
        audit.append(self.session, "alert_action", self.actions)
        return [{"seq": a["seq"], "action": a["action"], "alert": a["alert"]} for a in self.actions]


def apply_plan(changes: AlertChanges, clock_identity: tuple[str, str, str], clock: Clock | None, site: str,
               version: int, plan: AlertPlan, existing: dict[AlertKey, AlertRow], now: datetime) -> None:
    """Turn one clock's plan into alert rows."""
    standard_id, case_id, key = clock_identity
    for alert_key in plan.retract:
        row = existing[alert_key]
        row.state, row.resolved_at, row.resolution = RETRACTED, now, "retracted"
        changes.record(row, "retracted", None, now)
    for alert_key, resolution in plan.resolve:
        row = existing[alert_key]
        row.state, row.resolved_at, row.resolution = RESOLVED, now, resolution
        changes.record(row, "resolved", None, now)
    for point in plan.open:
        if point.key in existing:  # a retracted alert whose (moved) due time came after all
            row = existing[point.key]
            row.state, row.due_at, row.opened_at, row.to = OPEN, point.due_at, now, point.to
            row.resolved_at = row.resolution = None
            changes.record(row, "reopened", None, now)
            continue
        changes.open({
            "id": str(uuid.uuid4()), "kind": point.kind, "step": point.step, "standard_id": standard_id,
            "version": version, "site": site, "case_id": case_id, "key": key, "state": OPEN, "due_at": point.due_at,
            "opened_at": now, "to": point.to, "acknowledged_by": None, "acknowledged_at": None, "note": None,
            "resolved_at": None, "resolution": None,
        }, "escalated" if point.kind == ESCALATION else "opened", now)
        metrics.ALERTS_OPENED.labels(point.kind).inc()
        metrics.ALERT_LAG.observe(max(0.0, (now - point.due_at).total_seconds()))


def acknowledge(session: Session, alert_id: str, actor: str, note: str | None, now: datetime) -> tuple[dict, list]:
    """open → acknowledged; acknowledging again only updates the note."""
    row = session.get(AlertRow, alert_id, with_for_update=True)
    if row is None:
        raise AlertError(f"no alert with id {alert_id}", 404)
    if row.state not in LIVE_STATES:
        raise AlertError(f"alert {alert_id} is {row.state}; only open alerts can be acknowledged", 409)
    row.state = ACKNOWLEDGED
    row.acknowledged_by = actor
    row.acknowledged_at = row.acknowledged_at or now
    row.note = note
    changes = AlertChanges(session)
    changes.record(row, "acknowledged", actor, now)
    return alert_json(row), changes.flush()


class Fanout:
    """Wakes whoever waits for alert changes (SSE streams, the outbox relay) when a commit made some.

    Waiters also poll the database, so they see changes committed by other processes too.
    """

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.last_seq = 0

    def publish(self, changes: Sequence[dict[str, Any]]) -> None:
        if not changes:
            return
        with self.changed:
            self.last_seq = max(self.last_seq, max(c["seq"] for c in changes))
            self.changed.notify_all()
