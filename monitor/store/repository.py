"""Queries the pages need, in one place: plain functions taking a session.

Views call these and shape nothing in SQL themselves, so a query can be indexed, tested on both
databases and reused without copying it into a second view.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.store.models import AlertAction, AlertRow, ClockRow, EventRow, StandardsVersion

LIVE_ALERTS = ("open", "acknowledged")
RUNNING_CLOCKS = ("running", "breached")
#: escalation > breach > warning: the alert a clock's card shows (SPEC §6.1)
SEVERITY = {"escalation": 0, "breach": 1, "warning": 2}


@dataclass
class ClockAlerts:
    """The unresolved alerts of one clock: what its single card on the board shows."""

    standard: str
    case: str
    key: str
    site: str
    alerts: list[AlertRow] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    start_local: str | None = None

    @property
    def lead(self) -> AlertRow:
        """The most severe unresolved alert; the latest escalation step among escalations."""
        return min(self.alerts, key=lambda a: (SEVERITY.get(a.kind, 9), -(a.step or 0)))

    @property
    def state(self) -> str:
        return "open" if any(a.state == "open" for a in self.alerts) else "acknowledged"

    @property
    def open_ids(self) -> list[str]:
        return [a.id for a in self.alerts if a.state == "open"]


def last_alert_seq(session: Session) -> int:
    return session.scalar(select(func.max(AlertAction.seq))) or 0


def board_alerts(session: Session, site: str | None) -> list[ClockAlerts]:
    """Unresolved alerts grouped by clock, with the start event's attributes (for a label)."""
    query = select(AlertRow).where(AlertRow.state.in_(LIVE_ALERTS))
    if site:
        query = query.where(AlertRow.site == site)
    groups: dict[tuple[str, str, str], ClockAlerts] = {}
    for row in session.scalars(query):
        identity = (row.standard_id, row.case_id, row.key)
        groups.setdefault(identity, ClockAlerts(row.standard_id, row.case_id, row.key, row.site)).alerts.append(row)
    if groups:
        cases = sorted({case for _, case, _ in groups})
        starts = (select(ClockRow.standard_id, ClockRow.case_id, ClockRow.key, ClockRow.start_local, EventRow.attrs)
                  .join(EventRow, EventRow.id == ClockRow.start_event_id, isouter=True)
                  .where(ClockRow.case_id.in_(cases)))
        for standard, case, key, start_local, attrs in session.execute(starts):
            group = groups.get((standard, case, key))
            if group is not None:
                group.start_local, group.attrs = start_local, attrs or {}
    return sorted(groups.values(), key=lambda g: (g.state != "open", SEVERITY.get(g.lead.kind, 9), g.lead.due_at))


@dataclass
class BoardClock:
    row: ClockRow
    attrs: dict[str, Any]


def board_clocks(session: Session, site: str | None, limit: int) -> tuple[list[BoardClock], int]:
    """Running clocks nearest their deadline first (at most ``limit``), and how many run in all."""
    query = select(ClockRow).where(ClockRow.state.in_(RUNNING_CLOCKS))
    if site:
        query = query.where(ClockRow.site == site)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(
        query.add_columns(EventRow.attrs).join(EventRow, EventRow.id == ClockRow.start_event_id, isouter=True)
        .order_by(ClockRow.deadline.is_(None), ClockRow.deadline, ClockRow.id).limit(limit)).all()
    return [BoardClock(row, attrs or {}) for row, attrs in rows], total


def known_sites(session: Session, configured: Iterable[str] = ()) -> list[str]:
    """The configured sites in their order, then every other site that has sent an event, in name
    order (read from the ``(site, at)`` index): what a site picker offers."""
    first = list(configured)
    with_data = session.scalars(select(EventRow.site).distinct().order_by(EventRow.site))
    return first + [site for site in with_data if site not in first]


def file_versions(session: Session, name: str, limit: int | None = None) -> list[StandardsVersion]:
    """The stored versions of one standards file, newest first (text and diff included)."""
    return list(session.scalars(select(StandardsVersion).where(StandardsVersion.file == name)
                                .order_by(StandardsVersion.version.desc()).limit(limit)))


def version_list(session: Session, name: str) -> list[Any]:
    """(version, author, created_at) of every version of one file, newest first, without the texts."""
    return list(session.execute(select(StandardsVersion.version, StandardsVersion.author, StandardsVersion.created_at)
                                .where(StandardsVersion.file == name).order_by(StandardsVersion.version.desc())))
