"""Queries that pages need and that are not an API resource: plain functions taking a session."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.store.models import ClockRow, EventRow

#: clocks a tablet counts down
OPEN_CLOCK_STATES = ("running", "breached", "paused")


@dataclass
class PlaceCase:
    """The case a place holds: the visit's events so far, oldest first."""

    place: str
    case: str
    opened_at: datetime
    events: list[dict[str, Any]] = field(default_factory=list)


def place_cases(session: Session, site: str, places: Iterable[str], close_types: Iterable[str],
                since: datetime) -> dict[str, PlaceCase]:
    """Each place's open case: the newest case named ``PLACE/…`` at ``site`` with an event since
    ``since``, unless one of its events is of a ``close_types`` type (then the place is free).

    Reads the site's events of the window through ``ix_events_site_at`` and groups them here:
    case ids are matched on their first path segment, which LIKE cannot do with an index anyway.
    """
    wanted, closing = set(places), set(close_types)
    rows = session.execute(
        select(EventRow.id, EventRow.case_id, EventRow.type, EventRow.at, EventRow.staff, EventRow.attrs)
        .where(EventRow.site == site, EventRow.at >= since).order_by(EventRow.at, EventRow.seq))
    cases: dict[str, PlaceCase] = {}
    closed: set[str] = set()
    for event_id, case_id, event_type, at, staff, attrs in rows:
        place = case_id.partition("/")[0]
        if place not in wanted or "/" not in case_id:
            continue
        found = cases.setdefault(case_id, PlaceCase(place, case_id, at))
        found.events.append({"id": event_id, "type": event_type, "at": at, "staff": staff, "attrs": attrs or {}})
        if event_type in closing:
            closed.add(case_id)
    newest: dict[str, PlaceCase] = {}
    for found in cases.values():
        if found.place not in newest or found.opened_at >= newest[found.place].opened_at:
            newest[found.place] = found
    return {place: found for place, found in newest.items() if found.case not in closed}


def open_clocks(session: Session, site: str, cases: Iterable[str]) -> list[ClockRow]:
    """The running, breached and paused clocks of ``cases``, nearest deadline first."""
    case_ids = list(cases)
    if not case_ids:
        return []
    return list(session.scalars(
        select(ClockRow).where(ClockRow.site == site, ClockRow.case_id.in_(case_ids),
                               ClockRow.state.in_(OPEN_CLOCK_STATES))
        .order_by(ClockRow.deadline.is_(None), ClockRow.deadline, ClockRow.id)))
