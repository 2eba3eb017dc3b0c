"""Notifications in storage: alert changes → groups → messages → receivers (SPEC §5.1).

Three stages, each a single step that a test drives at a chosen ``now``:

1. :class:`Router` is a channel of the outbox relay (the ``routes`` cursor): it puts each alert
   change into the group its first matching route names, in the same transaction that moves its
   cursor, so a change is grouped exactly once across crashes.
2. :meth:`Router.flush` turns every group whose time has come into one message (a
   ``notifications`` row with a new id), the group's changes folded to each alert's latest state.
3. :class:`Sender` (one per receiver, in its own thread) claims a due message, sends it, and
   records the attempt. A retryable failure is tried again with growing back-off until
   ``notify.retry_for`` has passed since the message was made; a permanent one fails it at once.
   The claim is committed before sending and the result after, so a crash in between leaves the
   message pending: it is sent again with the same id (at least once, never lost).

Nothing here runs inside an ingestion or scheduler transaction, and each receiver has its own
thread, so a receiver that is down delays only its own messages.
"""
from __future__ import annotations

import logging
import threading
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable

from sqlalchemy import delete, func, select, update

from monitor import metrics
from monitor.alerts import Fanout
from monitor.notify import routing
from monitor.notify.channel import Batch, Channel, ChannelError
from monitor.notify.config import RESERVED, NotifyConfig
from monitor.notify.formats import ZoneOf
from monitor.notify.receivers import EmailReceiver, WebhookReceiver
from monitor.outbox import OutboxRelay
from monitor.store.db import Database
from monitor.store.models import Notification, NotifyGroup, OutboxCursor
from monitor.store.repository import latest_alert_seq

log = logging.getLogger(__name__)
HISTORY = 20  # attempts kept per message
PRUNE_EVERY = timedelta(minutes=1)
MAX_BACKOFF = timedelta(minutes=5)
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Router:
    """The outbox channel ``routes``: alert changes into their routes' groups."""

    name = "routes"

    def __init__(self, db: Database, config: NotifyConfig, clock: Clock = utcnow) -> None:
        self.db = db
        self.config = config
        self.clock = clock

    def ready(self) -> bool:
        return True

    def send(self, batch: Batch) -> None:
        now = self.clock()
        with self.db.session() as session:
            cursor = session.scalar(select(OutboxCursor.seq).where(OutboxCursor.channel == self.name)
                                    .with_for_update())
            groups: dict[tuple[str, int, str], NotifyGroup] = {}
            for change in batch.changes:
                if cursor is not None and change["seq"] <= cursor:
                    continue  # grouped before a crash that came ahead of the relay's own cursor update
                self._route(session, change, groups, now)
            for group in groups.values():
                group.pending = list(group.pending)  # a new list, so SQLAlchemy sees the JSON change
            session.execute(update(OutboxCursor).where(OutboxCursor.channel == self.name)
                            .values(seq=max(c["seq"] for c in batch.changes)))

    def _route(self, session, change: dict[str, Any], groups: dict, now: datetime) -> None:
        alert = change["alert"]
        found = routing.route_for(self.config.routes, alert)
        if found is None or not routing.takes(found[1], change["action"]):
            return
        index, route = found
        labels = routing.group_labels(route, alert)
        identity = (route.receiver, index, routing.group_key(labels))
        group = groups.get(identity)
        if group is None:
            group = session.scalar(select(NotifyGroup).where(NotifyGroup.receiver == identity[0],
                                                             NotifyGroup.route == index, NotifyGroup.key == identity[2]))
            if group is None:
                group = NotifyGroup(receiver=route.receiver, route=index, key=identity[2], labels=labels, pending=[],
                                    flush_at=None, last_sent_at=None)
                session.add(group)
            groups[identity] = group
        if group.flush_at is None:
            group.flush_at = routing.flush_at(route, now, group.last_sent_at)
        group.pending = [*group.pending, {"seq": change["seq"], "action": change["action"], "alert": alert}]

    def flush(self, now: datetime | None = None) -> set[str]:
        """Make a message of every group due at ``now``; return the receivers that got one."""
        now = now or self.clock()
        receivers = set()
        with self.db.session() as session:
            for group in session.scalars(select(NotifyGroup).where(NotifyGroup.flush_at <= now)):
                changes = routing.latest_per_alert(group.pending)
                group.pending, group.flush_at, group.last_sent_at = [], None, now
                if not changes or group.receiver not in self.config.receivers:
                    continue  # a receiver removed from the configuration since: nobody to tell
                session.add(Notification(id=str(uuid.uuid4()), receiver=group.receiver, labels=group.labels,
                                         changes=changes, state="pending", attempts=0, last_error=None, history=[],
                                         created_at=now, next_attempt_at=now, claimed_by=None, delivered_at=None))
                receivers.add(group.receiver)
        return receivers

    def prune(self, now: datetime) -> int:
        """Forget groups with nothing waiting that have been quiet for longer than any route's
        group_interval: the timing rule treats them as new anyway (group_by [case] makes one a case)."""
        quiet_since = now - max((r.group_interval for r in self.config.routes), default=timedelta(0))
        with self.db.session() as session:
            return session.execute(delete(NotifyGroup).where(NotifyGroup.flush_at.is_(None),
                                                             NotifyGroup.last_sent_at < quiet_since)).rowcount

    def next_flush(self) -> datetime | None:
        with self.db.read_session() as session:
            return session.scalar(select(func.min(NotifyGroup.flush_at)))


class Sender:
    """Delivers one receiver's messages through its channel, one at a time."""

    def __init__(self, db: Database, channel: Channel, owner: str, retry_for: timedelta, claim_for: timedelta,
                 clock: Clock = utcnow, first_backoff: timedelta = timedelta(seconds=1), batch: int = 20) -> None:
        self.db = db
        self.batch = batch
        self.channel = channel
        self.me = owner
        self.retry_for = retry_for
        self.claim_for = claim_for
        self.clock = clock
        self.first_backoff = first_backoff
        self.wake = threading.Event()
        for counter in (metrics.NOTIFY_SENT, metrics.NOTIFY_RETRIED, metrics.NOTIFY_FAILED):
            counter.labels(channel.name)  # shown as 0 in /metrics before the first message

    def release_claims(self) -> int:
        """After a restart: what this owner was sending when it died is due again now."""
        with self.db.session() as session:
            return session.execute(update(Notification).where(
                Notification.receiver == self.channel.name, Notification.state == "pending",
                Notification.claimed_by == self.me).values(next_attempt_at=self.clock(), claimed_by=None)).rowcount

    def _claim(self, now: datetime) -> list[Notification]:
        """Take up to ``batch`` due messages (one conditional UPDATE: another worker gets others)."""
        with self.db.session() as session:
            due = session.scalars(select(Notification.seq).where(
                Notification.state == "pending", Notification.receiver == self.channel.name,
                Notification.next_attempt_at <= now).order_by(Notification.next_attempt_at, Notification.seq)
                .limit(self.batch)).all()
            if not due:
                return []
            claimed = session.scalars(update(Notification).where(
                Notification.seq.in_(due), Notification.state == "pending", Notification.next_attempt_at <= now)
                .values(next_attempt_at=now + self.claim_for, claimed_by=self.me, attempts=Notification.attempts + 1)
                .returning(Notification.seq)).all()
            if not claimed:
                return []
            return session.scalars(select(Notification).where(Notification.seq.in_(claimed))
                                   .order_by(Notification.seq).execution_options(populate_existing=True)).all()

    def step(self) -> int:
        """Try the due messages (up to ``batch``); return how many were tried."""
        messages = self._claim(self.clock())
        outcomes = []
        for message in messages:
            batch = Batch(id=message.id, changes=message.changes, group=message.labels, receiver=message.receiver)
            error, retryable, retry_after = None, False, None
            try:
                self.channel.send(batch)
            except ChannelError as exc:
                error, retryable, retry_after = str(exc), exc.retryable, exc.retry_after
            except Exception as exc:  # noqa: BLE001 - a bug in a format would fail every retry alike
                log.exception("receiver %s: message %s could not be sent", self.channel.name, message.id)
                error = f"{type(exc).__name__}: {exc}"
            outcomes.append(self._outcome(message, self.clock(), error, retryable, retry_after))
        if outcomes:
            # One transaction for the batch's results: a crash before it only means sending again.
            with self.db.session() as session:
                for message, values in zip(messages, outcomes):
                    session.execute(update(Notification).where(Notification.seq == message.seq).values(**values))
        return len(messages)

    def _outcome(self, message: Notification, now: datetime, error: str | None, retryable: bool,
                 retry_after: float | None) -> dict[str, Any]:
        values: dict[str, Any] = {"claimed_by": None, "last_error": error[:2000] if error else message.last_error,
                                  "history": [*message.history, {"at": now.isoformat(), "error": error}][-HISTORY:]}
        if error is None:
            values.update(state="delivered", delivered_at=now, next_attempt_at=None)
            metrics.NOTIFY_SENT.labels(self.channel.name).inc()
            metrics.NOTIFY_DELAY.labels(self.channel.name).observe((now - message.created_at).total_seconds())
        elif retryable and now - message.created_at < self.retry_for:
            wait = max(min(self.first_backoff * 2 ** (message.attempts - 1), MAX_BACKOFF),
                       timedelta(seconds=min(retry_after or 0, MAX_BACKOFF.total_seconds())))
            values.update(next_attempt_at=min(now + wait, message.created_at + self.retry_for))
            metrics.NOTIFY_RETRIED.labels(self.channel.name).inc()
            log.warning("receiver %s: message %s attempt %d failed (%s); retrying in %.0fs", self.channel.name,
                        message.id, message.attempts, error, wait.total_seconds())
        else:
            values.update(state="failed", next_attempt_at=None)
            metrics.NOTIFY_FAILED.labels(self.channel.name).inc()
            why = "permanent error" if not retryable else f"still failing after {self.retry_for}"
            log.error("receiver %s: message %s failed (%s): %s", self.channel.name, message.id, why, error)
        return values

    def next_attempt(self) -> datetime | None:
        with self.db.read_session() as session:
            return session.scalar(select(func.min(Notification.next_attempt_at)).where(
                Notification.state == "pending", Notification.receiver == self.channel.name))

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                while self.step() and not stop.is_set():
                    pass
                upcoming = self.next_attempt()
            except Exception:  # noqa: BLE001 - outlive database outages
                log.exception("receiver %s: sending failed; retrying", self.channel.name)
                stop.wait(1.0)
                continue
            wait = 1.0
            if upcoming is not None:
                wait = min(wait, max(0.0, (upcoming - self.clock()).total_seconds()))
            self.wake.wait(wait)
            self.wake.clear()


def channels(config: NotifyConfig, zone_of: ZoneOf) -> list[Channel]:
    """One channel per configured receiver."""
    timeout = config.timeout.total_seconds()
    out: list[Channel] = []
    for receiver in config.receivers.values():
        if receiver.webhook is not None:
            out.append(WebhookReceiver(receiver.name, receiver.webhook, zone_of, timeout))
        else:
            out.append(EmailReceiver(receiver.name, receiver.email, config.smtp, zone_of, timeout))
    return out


class Notifier:
    """The router's relay loop and one sender per receiver, wired for a run or worker process."""

    def __init__(self, db: Database, config: NotifyConfig, fanout: Fanout, owner: str, zone_of: ZoneOf,
                 receivers: Iterable[Channel] | None = None, clock: Clock = utcnow,
                 first_backoff: timedelta = timedelta(seconds=1)) -> None:
        self.db = db
        self.fanout = fanout
        self.clock = clock
        self.config = config
        self._pruned_at: datetime | None = None
        self.router = Router(db, config, clock)
        self.relay = OutboxRelay(db, self.router, fanout, owner=owner)
        batch = 20
        claim_for = config.timeout * (batch + 1) + timedelta(seconds=5)  # longer than a batch of time-outs
        self.senders = {c.name: Sender(db, c, owner, config.retry_for, claim_for, clock, first_backoff, batch)
                        for c in (receivers if receivers is not None else channels(config, zone_of))}

    def prepare(self) -> None:
        """At start: the routes cursor, claims a crash left, and what the configuration dropped."""
        self.relay.start_at_the_end()
        now = self.clock()
        with self.db.session() as session:
            # Notifications switched off for longer than retry_for: old changes are no news.
            newest = latest_alert_seq(session)
            skipped = session.execute(update(OutboxCursor).where(
                OutboxCursor.channel == self.router.name, OutboxCursor.lease_until < now - self.config.retry_for,
                OutboxCursor.seq < newest).values(seq=newest)).rowcount
            if skipped:
                log.warning("notifications were off for longer than notify.retry_for: alert changes made "
                            "meanwhile are not sent")
            gone = session.execute(update(Notification).where(
                Notification.state == "pending", Notification.receiver.not_in([*self.senders, *RESERVED]))
                .values(state="failed", next_attempt_at=None, last_error="its receiver is no longer configured")
                ).rowcount
            if gone:
                log.warning("%d pending messages failed: their receivers are no longer configured", gone)
        for sender in self.senders.values():
            sender.release_claims()

    def step(self) -> int:
        """Group new changes and flush due groups (only while holding the routes lease)."""
        routed = self.relay.step(self.clock())
        if self.relay.holding:
            # read the clock again: a group_wait of 0s made a group due just now, while routing
            now = self.clock()
            for receiver in self.router.flush(now):
                self.senders[receiver].wake.set()
            if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
                self.router.prune(now)
                self._pruned_at = now
        return routed

    def run_router(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                routed = self.step()
                upcoming = self.router.next_flush()
            except Exception:  # noqa: BLE001 - outlive database outages
                log.exception("notification routing failed; retrying")
                stop.wait(1.0)
                continue
            if routed >= self.relay.batch:
                continue
            wait = 0.25
            if upcoming is not None:
                wait = min(wait, max(0.0, (upcoming - self.clock()).total_seconds()))
            with self.fanout.changed:
                self.fanout.changed.wait(wait)
