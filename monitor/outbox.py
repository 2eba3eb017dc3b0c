"""Relaying alert changes to channels from the ``alert_actions`` log (the transactional outbox).

Publishing straight after commit loses what a crash catches in a client's memory. Instead a relay
reads the log past its channel's cursor, hands the batch to the channel (monitor/notify/channel.py),
and only once the channel has it moves the cursor — at least once, across restarts. One process
relays a channel at a time (a lease in ``outbox_cursors``), so several workers do not each publish
every change.

A channel's error says whether a retry can help. A retryable one (the broker is away) backs off
and sends the same changes again; a permanent one must not hold the cursor forever, so the batch is
sent again change by change, and a change refused for good is recorded in the delivery log as a
failed message of that channel, counted, and skipped.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from sqlalchemy import or_, update
from sqlalchemy.dialects import postgresql, sqlite

from monitor import metrics
from monitor.alerts import Fanout
from monitor.notify.channel import Batch, Channel, ChannelError
from monitor.store.db import TRANSIENT, Database
from monitor.store.models import Notification, OutboxCursor
from monitor.store.repository import alert_changes_after, latest_alert_seq

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=15)
MAX_BACKOFF = 30.0


class OutboxRelay:
    def __init__(self, db: Database, channel: Channel, fanout: Fanout, owner: str, batch: int = 500) -> None:
        """``owner`` is stable across restarts (the worker's MQTT client id), so a restarted
        process takes its lease back at once instead of waiting for it to lapse."""
        self.db = db
        self.channel = channel
        self.fanout = fanout
        self.batch = batch
        self.me = owner
        self.holding = False
        self._delay = 0.0
        self._retry_at = 0.0  # time.monotonic() before which a backed-off channel is not tried

    def start_at_the_end(self) -> None:
        """First start of a channel: begin with what happens from now on, not the whole history."""
        with self.db.session() as session:
            newest = latest_alert_seq(session)
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
        self.holding = claimed is not None
        return claimed

    def step(self, now: datetime | None = None) -> int:
        """Relay one batch; return how many changes were handled (delivered or skipped for good)."""
        now = now or datetime.now(timezone.utc)
        if time.monotonic() < self._retry_at or not self.channel.ready():
            return 0
        cursor = self._claim(now)
        if cursor is None:
            return 0
        with self.db.read_session() as session:
            changes = alert_changes_after(session, cursor, self.batch)
        if not changes:
            return 0
        done = self._send(changes, now)
        if done:
            with self.db.session() as session:
                session.execute(update(OutboxCursor).where(OutboxCursor.channel == self.channel.name,
                                                           OutboxCursor.owner == self.me)
                                .values(seq=changes[done - 1]["seq"]))
        return done

    def _send(self, changes: list[dict[str, Any]], now: datetime) -> int:
        """How many leading changes the channel took or refused for good."""
        try:
            self.channel.send(_batch(self.channel.name, changes))
        except TRANSIENT:
            raise
        except ChannelError as exc:
            done = max(0, min(exc.delivered, len(changes)))
            metrics.NOTIFY_SENT.labels(self.channel.name).inc(done)
            if exc.retryable:
                self._back_off(exc, done, len(changes))
                return done
            return done + self._one_by_one(changes[done:], now)
        except Exception:  # noqa: BLE001 - a bug on one change must not stop the channel
            log.exception("alert channel %s failed on a batch of %d changes; sending them one by one",
                          self.channel.name, len(changes))
            return self._one_by_one(changes, now)
        metrics.NOTIFY_SENT.labels(self.channel.name).inc(len(changes))
        self._delay = 0.0
        return len(changes)

    def _one_by_one(self, changes: Sequence[dict[str, Any]], now: datetime) -> int:
        for done, change in enumerate(changes):
            try:
                self.channel.send(_batch(self.channel.name, [change]))
            except TRANSIENT:
                raise
            except ChannelError as exc:
                if exc.retryable:
                    self._back_off(exc, done, len(changes))
                    return done
                self._skip(change, str(exc), now)
            except Exception as exc:  # noqa: BLE001 - the same change would fail forever
                log.exception("alert channel %s failed on change %s", self.channel.name, change["seq"])
                self._skip(change, f"{type(exc).__name__}: {exc}", now)
            else:
                metrics.NOTIFY_SENT.labels(self.channel.name).inc()
        return len(changes)

    def _back_off(self, exc: ChannelError, done: int, total: int) -> None:
        self._delay = min(MAX_BACKOFF, max(0.5, self._delay * 2, exc.retry_after or 0.0))
        self._retry_at = time.monotonic() + self._delay
        metrics.NOTIFY_RETRIED.labels(self.channel.name).inc()
        log.warning("alert channel %s: %s (%d of %d changes sent); retrying in %.1fs", self.channel.name, exc,
                    done, total, self._delay)

    def _skip(self, change: dict[str, Any], error: str, now: datetime) -> None:
        """Record a change the channel refuses for good, so the cursor can pass it."""
        alert = change.get("alert") or {}
        log.error("alert channel %s refused change %s of alert %s for good: %s; skipped", self.channel.name,
                  change["seq"], alert.get("id"), error)
        metrics.CHANGES_SKIPPED.labels(self.channel.name).inc()
        metrics.NOTIFY_FAILED.labels(self.channel.name).inc()
        with self.db.session() as session:
            session.add(Notification(id=str(uuid.uuid4()), receiver=self.channel.name, labels={}, changes=[change],
                                     state="failed", attempts=1, last_error=error[:2000],
                                     history=[{"at": now.isoformat(), "error": error[:500]}], created_at=now,
                                     next_attempt_at=None, claimed_by=None, delivered_at=None))

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


def _batch(channel: str, changes: Sequence[dict[str, Any]]) -> Batch:
    return Batch(id=f"{channel}:{changes[0]['seq']}-{changes[-1]['seq']}", changes=changes)
