"""Which alerts a clock calls for, as a pure function of (standard, clock, stored alerts, now).

The alert service turns an :class:`AlertPlan` into rows and notifications; every rule of the
life cycle (open once, skip escalations after an acknowledgement, resolve, retract) lives here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Mapping

from monitor.core.calendars import add_counted
from monitor.core.clocks import Clock
from monitor.core.standards import Standard

WARNING, BREACH, ESCALATION = "warning", "breach", "escalation"
OPEN, ACKNOWLEDGED, RESOLVED, RETRACTED = "open", "acknowledged", "resolved", "retracted"
LIVE_STATES = (OPEN, ACKNOWLEDGED)

AlertKey = tuple[str, int]  # (kind, escalation step; 0 for warning and breach)


@dataclass(frozen=True)
class AlertPoint:
    kind: str
    step: int
    due_at: datetime
    to: str | None
    even_if_acknowledged: bool = False

    @property
    def key(self) -> AlertKey:
        return (self.kind, self.step)


@dataclass(frozen=True)
class AlertPlan:
    open: tuple[AlertPoint, ...] = ()
    resolve: tuple[tuple[AlertKey, str], ...] = ()
    retract: tuple[AlertKey, ...] = ()
    next_due_at: datetime | None = None
    points: Mapping[AlertKey, AlertPoint] = field(default_factory=dict)


def alert_points(standard: Standard, clock: Clock) -> list[AlertPoint]:
    """Warning at ``warn_after``, breach at the deadline, each escalation step past it."""
    points = []
    if clock.warn_at is not None and (clock.deadline is None or clock.warn_at < clock.deadline):
        points.append(AlertPoint(WARNING, 0, clock.warn_at, standard.owner))
    if clock.deadline is not None:
        points.append(AlertPoint(BREACH, 0, clock.deadline, standard.owner))
        for number, step in enumerate(standard.escalate, start=1):
            due = add_counted(clock.deadline, step.after, standard.calendar)
            if due is not None:
                points.append(AlertPoint(ESCALATION, number, due, step.to, step.even_if_acknowledged))
    return points


def _void(point: AlertPoint, clock: Clock) -> bool:
    """The clock ended (stopped or cancelled) in time, so this alert should never have fired."""
    return clock.ended_at is not None and clock.ended_at <= point.due_at


def plan_alerts(
    standard: Standard | None, clock: Clock | None, existing: Mapping[AlertKey, str], now: datetime
) -> AlertPlan:
    """Reconcile the stored alerts of one clock (kind/step → state) with what the data now says
    (``clock`` None: the data no longer starts it, so every alert of it is retracted)."""
    if clock is None or standard is None:
        return AlertPlan(retract=tuple(k for k, state in existing.items() if state != RETRACTED))
    points = {p.key: p for p in alert_points(standard, clock)}
    retract, resolve = [], []
    for key, state in existing.items():
        point = points.get(key)
        if state == RETRACTED:
            continue
        if point is None or _void(point, clock) or point.due_at > now:
            retract.append(key)
        elif clock.ended_at is not None and state in LIVE_STATES:
            resolve.append((key, "cancelled" if clock.cancelled_at else "stopped"))

    holding = clock.ended_at is not None or clock.paused_since is not None
    breach_acknowledged = existing.get((BREACH, 0)) == ACKNOWLEDGED
    to_open, upcoming = [], []
    for point in points.values():
        # A retracted alert may open again: late data moved the deadline and the new one passed.
        if holding or existing.get(point.key, RETRACTED) != RETRACTED:
            continue
        if point.kind == ESCALATION and breach_acknowledged and not point.even_if_acknowledged:
            continue
        (to_open if point.due_at <= now else upcoming).append(point)
    breach = points.get((BREACH, 0))
    if breach is not None and breach.due_at <= now:
        # Past the deadline a warning that never went out is noise: the breach says it all.
        to_open = [p for p in to_open if p.kind != WARNING]
    return AlertPlan(
        open=tuple(sorted(to_open, key=lambda p: p.due_at)),
        resolve=tuple(resolve),
        retract=tuple(retract),
        next_due_at=min((p.due_at for p in upcoming), default=None),
        points=points,
    )
