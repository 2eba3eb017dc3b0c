"""Relaying alert changes to channels from the ``alert_actions`` log (the transactional outbox).

Publishing straight after commit loses what a crash catches in a client's memory. Instead a relay
reads the log past its channel's cursor, publishes, waits for the broker's acknowledgements, and
only then moves the cursor — at least once, across restarts. One process relays at a time (a
lease in ``outbox_cursors``), so several workers do not each publish every change.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Protocol

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from monitor.alerts import ChannelError, Fanout
from monitor.store.db import Database
from monitor.store.models import AlertAction, OutboxCursor

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=15)


class Channel(Protocol):
    name: str

    def ready(self) -> bool:
        """Whether sending can succeed now (e.g. the MQTT connection is up)."""

    def send(self, change: dict[str, Any]) -> Callable[[float], bool]:
        """Start sending; return a waiter that says, within a timeout, whether it was delivered.
        Raise :class:`ChannelError` when it cannot even be started."""


class OutboxRelay:
    def __init__(self, db: Database, channel: Channel, fanout: Fanout, owner: str, batch: int = 500) -> None:
        """``owner`` is stable across restarts (the worker's MQTT client id), so a restarted
        process takes its lease back at once instead of waiting for it to lapse."""
        self.db = db
        self.channel = channel
        self.fanout = fanout
        self.batch = batch
        self.me = owner

    def start_at_the_end(self) -> None:
        """First start of a channel: begin with what happens from now on, not the whole history."""
        with self.db.session() as session:
            newest = session.scalar(select(func.max(AlertAction.seq))) or 0
            dialect = sqlite if self.db.is_sqlite else postgresql
            session.execute(dialect.insert(OutboxCursor).values(channel=self.channel.name, seq=newest)
                            .on_conflict_do_nothing())

    def _claim(self, now: datetime) -> int | None:
        """Take or renew the lease; return the cursor, or None when another process relays."""
        with self.db.session() as session:
            claimed = session.execute(
                update(OutboxCursor).where(
                    OutboxCursor.channel == self.channel.name,
                    or_(OutboxCursor.owner == self.me, OutboxCursor.owner.is_(None),
                        OutboxCursor.lease_until < now))
                .values(owner=self.me, lease_until=now + LEASE).returning(OutboxCursor.seq)).scalar()
        return claimed

    def step(self, now: datetime | None = None) -> int:
        """Relay one batch; return how many changes were delivered."""
        if not self.channel.ready():
            return 0
        cursor = self._claim(now or datetime.now(timezone.utc))
        if cursor is None:
            return 0
        with self.db.read_session() as session:
            actions = session.execute(select(AlertAction.seq, AlertAction.alert).where(AlertAction.seq > cursor)
                                      .order_by(AlertAction.seq).limit(self.batch)).all()
        delivered, count = cursor, 0
        try:
            waiters = [(seq, self.channel.send({"seq": seq, "alert": alert})) for seq, alert in actions]
            for seq, delivered_within in waiters:
                if not delivered_within(5.0):
                    break
                delivered, count = seq, count + 1
        except ChannelError as exc:
            log.warning("alert channel %s: %s", self.channel.name, exc)
        if count:
            with self.db.session() as session:
                session.execute(update(OutboxCursor).where(OutboxCursor.channel == self.channel.name,
                                                           OutboxCursor.owner == self.me)
                                .values(seq=delivered))
        return count

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                sent = self.step()
            except Exception:  # noqa: BLE001 - keep relaying through database outages
                log.exception("alert relay %s failed; retrying", self.channel.name)
                stop.wait(1.0)
                continue
            if sent < self.batch:
                with self.fanout.changed:
                    self.fanout.changed.wait(0.25)
