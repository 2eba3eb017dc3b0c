"""The queries the HTTP layer needs, in one place: API views, pages, streams and the relay call these
and run no SQL of their own. Each takes an open session and returns rows (ORM objects or tuples);
shaping them into JSON is ``monitor/serializers.py``'s business.

Paged lists fetch ``limit + 1`` rows, so the caller knows whether there is a next page.
"""
from __future__ import annotations

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


def live_alerts(session: Session, states: Iterable[str], site: str | None) -> Sequence[AlertRow]:
    query = select(AlertRow).where(AlertRow.state.in_(list(states)))
    if site:
        query = query.where(AlertRow.site == site)
    return session.scalars(query).all()


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


def running_clocks(session: Session, states: Iterable[str], site: str | None,
                   limit: int) -> tuple[Sequence[ClockRow], int]:
    """The ``limit`` clocks nearest their deadline, and how many there are in all."""
    query = select(ClockRow).where(ClockRow.state.in_(list(states)))
    if site:
        query = query.where(ClockRow.site == site)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(query.order_by(ClockRow.deadline.is_(None), ClockRow.deadline, ClockRow.id)
                           .limit(limit)).all()
    return rows, total


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


def versions_page(session: Session, file: str, limit: int, offset: int = 0) -> Sequence[StandardsVersion]:
    """A file's versions, newest first."""
    return session.scalars(select(StandardsVersion).where(StandardsVersion.file == file)
                           .order_by(StandardsVersion.version.desc()).offset(offset).limit(limit + 1)).all()


def file_summaries(session: Session) -> list[tuple]:
    """(file, version, author, created_at) of every version, each file's newest first."""
    return list(session.execute(select(StandardsVersion.file, StandardsVersion.version, StandardsVersion.author,
                                       StandardsVersion.created_at)
                                .order_by(StandardsVersion.file, StandardsVersion.version.desc())).all())


# -- people -----------------------------------------------------------------------------------------
def user_exists(session: Session, name: str) -> bool:
    return session.scalar(select(User.id).where(User.name == name)) is not None


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
