"""The queries the HTTP layer needs, in one place: API views, pages, streams, the relay and the command
line call these and run no SQL of their own. Each takes an open session and returns rows (ORM objects or tuples);
shaping them into JSON is ``monitor/serializers.py``'s business.

Paged lists fetch ``limit + 1`` rows, so the caller knows whether there is a next page.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from monitor.store.models import (
    AlertAction,
    AlertRow,
    ClockRow,
    DeadLetter,
    EventRow,
    Notification,
    Setting,
    StandardsVersion,
    Token,
    User,
    WebSession,
)

LIVE_ALERTS = ("open", "acknowledged")
RUNNING_CLOCKS = ("running", "breached")
#: escalation > breach > warning: the alert a clock's card shows (SPEC §6.1)
SEVERITY = {"escalation": 0, "breach": 1, "warning": 2}
ALERT_FILTERS = {"state": AlertRow.state, "site": AlertRow.site, "standard": AlertRow.standard_id,
                 "kind": AlertRow.kind, "case": AlertRow.case_id}


# -- alerts ---------------------------------------------------------------------------------------
def alerts_page(session: Session, filters: dict[str, str], limit: int, offset: int) -> Sequence[AlertRow]:
    """Alerts newest first, filtered by any of ``ALERT_FILTERS`` (equality)."""
    query = select(AlertRow)
    for name, value in filters.items():
        query = query.where(ALERT_FILTERS[name] == value)
    query = query.order_by(AlertRow.opened_at.desc(), AlertRow.id.desc()).offset(offset).limit(limit + 1)
    return session.scalars(query).all()


def alert_changes_after(session: Session, seq: int, limit: int) -> list[dict[str, Any]]:
    """The logged alert changes after ``seq``, oldest first: what every channel sends."""
    rows = session.execute(select(AlertAction.seq, AlertAction.action, AlertAction.alert)
                           .where(AlertAction.seq > seq).order_by(AlertAction.seq).limit(limit))
    return [{"seq": s, "action": action, "alert": alert} for s, action, alert in rows]


def case_alerts(session: Session, case: str) -> Sequence[AlertRow]:
    return session.scalars(select(AlertRow).where(AlertRow.case_id == case)
                           .order_by(AlertRow.opened_at, AlertRow.id)).all()


def latest_alert_seq(session: Session) -> int:
    """The number of the newest alert change (0 before the first): where a live stream starts."""
    return session.scalar(select(func.max(AlertAction.seq))) or 0


# -- cases and clocks -----------------------------------------------------------------------------
def case_events(session: Session, case: str) -> Sequence[EventRow]:
    return session.scalars(select(EventRow).where(EventRow.case_id == case).order_by(EventRow.at, EventRow.id)).all()


def case_clocks(session: Session, case: str) -> Sequence[ClockRow]:
    return session.scalars(select(ClockRow).where(ClockRow.case_id == case)
                           .order_by(ClockRow.start_at, ClockRow.standard_id, ClockRow.key)).all()


# -- the board and the editor ----------------------------------------------------------------------
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


def file_versions(session: Session, name: str, limit: int | None = None, offset: int = 0) -> list[StandardsVersion]:
    """The stored versions of one standards file, newest first (text and diff included)."""
    return list(session.scalars(select(StandardsVersion).where(StandardsVersion.file == name)
                                .order_by(StandardsVersion.version.desc()).offset(offset).limit(limit)))


def version_list(session: Session, name: str) -> list[Any]:
    """(version, author, created_at) of every version of one file, newest first, without the texts."""
    return list(session.execute(select(StandardsVersion.version, StandardsVersion.author, StandardsVersion.created_at)
                                .where(StandardsVersion.file == name).order_by(StandardsVersion.version.desc())))


# -- the staff tablet --------------------------------------------------------------------------------
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


# -- rejected payloads and deliveries -------------------------------------------------------------
def dead_letters_page(session: Session, limit: int, offset: int = 0,
                      before: int | None = None) -> Sequence[DeadLetter]:
    """Newest first; ``before`` pages back from a dead letter's id."""
    query = select(DeadLetter)
    if before:
        query = query.where(DeadLetter.id < before)
    return session.scalars(query.order_by(DeadLetter.id.desc()).offset(offset).limit(limit + 1)).all()


def notifications_page(session: Session, limit: int, offset: int = 0, state: str | None = None,
                       receiver: str | None = None) -> Sequence[Notification]:
    query = select(Notification)
    if state:
        query = query.where(Notification.state == state)
    if receiver:
        query = query.where(Notification.receiver == receiver)
    return session.scalars(query.order_by(Notification.seq.desc()).offset(offset).limit(limit + 1)).all()


# -- standards versions ---------------------------------------------------------------------------
def latest_version(session: Session, file: str) -> StandardsVersion | None:
    return session.scalars(select(StandardsVersion).where(StandardsVersion.file == file)
                           .order_by(StandardsVersion.version.desc()).limit(1)).first()


def version_count(session: Session, file: str) -> int:
    return session.scalar(select(func.count()).where(StandardsVersion.file == file)) or 0


def file_summaries(session: Session) -> list[tuple]:
    """(file, version, author, created_at) of every version, each file's newest first."""
    return list(session.execute(select(StandardsVersion.file, StandardsVersion.version, StandardsVersion.author,
                                       StandardsVersion.created_at)
                                .order_by(StandardsVersion.file, StandardsVersion.version.desc())).all())


# -- people -----------------------------------------------------------------------------------------
def user_exists(session: Session, name: str | None = None) -> bool:
    """Whether a login named ``name`` exists; without a name, whether any does."""
    query = select(User.id) if name is None else select(User.id).where(User.name == name)
    return session.scalar(query.limit(1)) is not None


def user_by_id(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def user_language(session: Session, user_id: int) -> str | None:
    return session.scalar(select(User.language).where(User.id == user_id))


def set_user_language(session: Session, user_id: int, language: str) -> None:
    session.execute(update(User).where(User.id == user_id).values(language=language))


def tokens(session: Session) -> Sequence[Token]:
    return session.scalars(select(Token).order_by(Token.created_at)).all()


def live_token(session: Session, token_id: int) -> Token | None:
    """The token, unless it was revoked."""
    token = session.get(Token, token_id)
    return token if token is not None and token.revoked_at is None else None


# -- login sessions and stored settings -------------------------------------------------------------
def setting(session: Session, name: str) -> str | None:
    row = session.get(Setting, name)
    return None if row is None else row.value


def add_setting_unless_set(session: Session, name: str, value: str) -> None:
    """Store a setting unless another process stored it first (theirs is kept)."""
    try:
        with session.begin_nested():
            session.add(Setting(name=name, value=value))
    except IntegrityError:
        pass


def web_session(session: Session, key: str) -> WebSession | None:
    return session.get(WebSession, key)


def add_web_session(session: Session, now: datetime, **values: Any) -> None:
    """A new login session row; sessions expired by ``now`` go at the same time."""
    session.execute(delete(WebSession).where(WebSession.expires_at <= now))
    session.add(WebSession(created_at=now, **values))


def change_web_session(session: Session, key: str, **values: Any) -> None:
    session.execute(update(WebSession).where(WebSession.id_hash == key).values(**values))


def end_web_session(session: Session, key: str) -> None:
    session.execute(delete(WebSession).where(WebSession.id_hash == key))
