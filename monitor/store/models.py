"""Tables. Times are stored as UTC and come back aware, on SQLite and PostgreSQL alike."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

BigId = BigInteger().with_variant(Integer, "sqlite")


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out; naive UTC in the column (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class EventRow(Base):
    __tablename__ = "events"
    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(128))  # unique within its site (SPEC §1)
    case_id: Mapped[str] = mapped_column(String(200), index=True)
    type: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    site: Mapped[str] = mapped_column(String(64))
    device: Mapped[str | None] = mapped_column(String(64))
    staff: Mapped[str | None] = mapped_column(String(200))
    attrs: Mapped[dict[str, Any]]
    received_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(300))

    __table_args__ = (
        # (id, site) rather than (site, id): ingestion looks repeats up by id
        UniqueConstraint("id", "site", name="uq_events_id_site"),
        Index("ix_events_site_at", "site", "at"), Index("ix_events_type_at", "type", "at"))


class DeadLetter(Base):
    __tablename__ = "dead_letters"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
    source: Mapped[str] = mapped_column(String(300))
    reason: Mapped[str] = mapped_column(Text)  # in English, as the sender was told; the audit keeps it
    #: the reason as a message id with parameters (Message.to_json), said in the reader's language;
    #: NULL for rows from before 0008 and for overlong ones, which show the English reason
    words: Mapped[dict[str, Any] | None]
    raw: Mapped[str] = mapped_column(Text)


class DeviceStatus(Base):
    """Each status message a device sent (§2), the history the data-gap rule reads."""

    __tablename__ = "device_status"
    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]
    received_at: Mapped[datetime]

    #: the monitor's receive time: what the data-gap rule reads (SPEC §2); ``at`` is the device's claim
    __table_args__ = (Index("ix_device_status_site_received", "site", "received_at"),)


class ClockRow(Base):
    """The latest evaluation of one clock; ``next_due_at`` is what the scheduler claims on."""

    __tablename__ = "clocks"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    standard_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int]
    case_id: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(200))
    site: Mapped[str] = mapped_column(String(64))
    staff: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))
    start_event_id: Mapped[str] = mapped_column(String(128))
    start_at: Mapped[datetime]
    #: start in the site's timezone, "YYYY-MM-DD HH:MM:SS", so reports group by local day in SQL
    start_local: Mapped[str] = mapped_column(String(19))
    deadline: Mapped[datetime | None]
    warn_at: Mapped[datetime | None]
    stop_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    paused_since: Mapped[datetime | None]
    duration_s: Mapped[float | None] = mapped_column(Float)
    data_gap: Mapped[bool] = mapped_column(Boolean, default=False)
    next_due_at: Mapped[datetime | None] = mapped_column(index=True)
    updated_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("standard_id", "case_id", "key", name="uq_clocks_identity"),
        # Covers the compliance report's columns, so reports read the index alone.
        Index("ix_clocks_report", "standard_id", "start_at", "start_local", "site", "staff", "state", "data_gap",
              "duration_s", "version"),
        Index("ix_clocks_case", "case_id"),
    )


class AlertRow(Base):
    __tablename__ = "alerts"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    step: Mapped[int]
    standard_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int]
    site: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime]
    opened_at: Mapped[datetime] = mapped_column(index=True)
    to: Mapped[str | None] = mapped_column(String(200))
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (
        UniqueConstraint("standard_id", "case_id", "key", "kind", "step", name="uq_alerts_once"),
        Index("ix_alerts_case", "case_id"),
    )


class AlertAction(Base):
    """Every change of an alert, in order: the SSE log (``seq`` is the event id) and audit input."""

    __tablename__ = "alert_actions"
    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(String(36), index=True)
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime]
    alert: Mapped[dict[str, Any]]


class OutboxCursor(Base):
    """How far a channel (e.g. MQTT alerts) has delivered the alert_actions log, and who relays it.

    The lease lets exactly one process relay at a time; another takes over once it lapses.
    """

    __tablename__ = "outbox_cursors"
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(BigId)
    owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]


class StandardsVersion(Base):
    __tablename__ = "standards_versions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    file: Mapped[str] = mapped_column(String(200))
    version: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    diff: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (UniqueConstraint("file", "version", name="uq_standards_versions"),)


class Rejudgement(Base):
    """An explicit re-judgement (SPEC §3.2, §8 ``rejudge``): the clocks of ``standard_id`` that started in
    ``[window_from, window_to)`` — up to ``at`` — are judged by ``file`` version ``version`` from
    then on. Who, when, and how many verdicts it changed; chained into the audit trail."""

    __tablename__ = "rejudgements"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    standard_id: Mapped[str] = mapped_column(String(64))
    file: Mapped[str] = mapped_column(String(200))
    version: Mapped[int]
    window_from: Mapped[datetime]
    window_to: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime]
    clocks: Mapped[int]
    changed: Mapped[int]


class Token(Base):
    __tablename__ = "tokens"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    sites: Mapped[list[Any]]
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime]
    #: the page language the user picked in the menu (``en``, ``zh-CN``); None: the browser's
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)


class WebSession(Base):
    """A login session (SPEC §6): the browser's cookie holds only an opaque id, this row is the rest.

    ``id_hash`` is an HMAC of that id, so a copy of the table opens no browser's session. A row is
    bound to what it was opened with (a user, a token, or a bootstrap secret's fingerprint) and
    is good only while that still is: removing the user or revoking the token ends it.
    """

    __tablename__ = "web_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(BigId, index=True)
    token_id: Mapped[str | None] = mapped_column(String(16), index=True)
    credential: Mapped[str | None] = mapped_column(String(80))
    data: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class Setting(Base):
    """Values the service makes once and every process shares, e.g. the generated ``web.secret_key``."""

    __tablename__ = "settings"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class RateLimitHit(Base):
    """One counted hit of a rate limit (failed logins), shared by every web process."""

    __tablename__ = "rate_limit_hits"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300))
    #: seconds since the epoch, as the limits library counts
    at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float, index=True)

    __table_args__ = (Index("ix_rate_limit_hits_key_at", "key", "at"),)


class AuditRecord(Base):
    """One link of the hash chain: the hash of a live row, chained to the link before it."""

    __tablename__ = "audit_chain"
    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    ref: Mapped[str] = mapped_column(String(200))
    row_hash: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_audit_kind_ref", "kind", "ref"),)


class NotifyGroup(Base):
    """Alert changes routed to one receiver's group (SPEC §5.1), waiting for the group's next message."""

    __tablename__ = "notify_groups"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    receiver: Mapped[str] = mapped_column(String(64))
    route: Mapped[int]
    key: Mapped[str] = mapped_column(String(64))  # sha256 of the group labels
    labels: Mapped[dict[str, Any]]
    pending: Mapped[list[Any]]  # [{"seq", "action", "alert"}], oldest first
    flush_at: Mapped[datetime | None] = mapped_column(index=True)
    last_sent_at: Mapped[datetime | None]

    __table_args__ = (UniqueConstraint("receiver", "route", "key", name="uq_notify_groups"),)


class Notification(Base):
    """One message to one receiver, with its delivery attempts (``GET /notifications``).

    ``id`` is the message id every retry carries; ``next_attempt_at`` is when a sender may try it
    next: a sender claims it by pushing that out (conditional UPDATE), so two workers never send
    the same attempt, and a sender that dies mid-attempt leaves it due again once the claim lapses.
    """

    __tablename__ = "notifications"
    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    receiver: Mapped[str] = mapped_column(String(64))
    labels: Mapped[dict[str, Any]]
    changes: Mapped[list[Any]]  # [{"seq", "action", "alert"}]: each alert once, latest state
    state: Mapped[str] = mapped_column(String(16))  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    history: Mapped[list[Any]]  # [{"at", "error"}] of the latest attempts
    created_at: Mapped[datetime] = mapped_column(index=True)
    next_attempt_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    delivered_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_notifications_due", "state", "receiver", "next_attempt_at"),)
