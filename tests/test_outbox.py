"""The outbox relay over the one channel interface: retryable errors back off, permanent ones are
recorded, counted and skipped, so the cursor never sticks."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from monitor import metrics
from monitor.notify.channel import Batch, ChannelError
from monitor.outbox import OutboxRelay
from monitor.store.models import Notification, OutboxCursor
from tests.conftest import send

T = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)


class Recording:
    """A channel that takes what it is given in order; one case it refuses for good, and it can be
    told to be away (retryable) for a while."""

    name = "recording"

    def __init__(self) -> None:
        self.received: list[str] = []
        self.away = False

    def ready(self) -> bool:
        return True

    def send(self, batch: Batch) -> None:
        if self.away:
            raise ChannelError("the other side is away", retryable=True)
        for index, alert in enumerate(batch.alerts):
            if alert["case"] == "poison":
                raise ChannelError("refused for good: no such topic", retryable=False, delivered=index)
            self.received.append(alert["case"])


def relay_for(runtime, channel) -> OutboxRelay:
    relay = OutboxRelay(runtime.db, channel, runtime.fanout, owner="test")
    relay.start_at_the_end()
    return relay


def cursor(runtime, name: str) -> int:
    with runtime.db.session() as session:
        return session.scalar(select(OutboxCursor.seq).where(OutboxCursor.channel == name))


def test_a_change_refused_for_good_is_recorded_counted_and_skipped(runtime):
    channel = Recording()
    relay = relay_for(runtime, channel)
    skipped = metrics.CHANGES_SKIPPED.labels("recording")._value.get()
    # each start learned after its deadline opens its breach at once: three changes, poison in the middle
    send(runtime, ("a", "t1", "seated", T - timedelta(seconds=150)), now=T)
    send(runtime, ("b", "poison", "seated", T - timedelta(seconds=150)), now=T)
    send(runtime, ("c", "t2", "seated", T - timedelta(seconds=150)), now=T)

    assert relay.step(T) == 3
    assert channel.received == ["t1", "t2"]
    assert relay.step(T) == 0  # the cursor passed the poison: nothing is sent twice
    assert metrics.CHANGES_SKIPPED.labels("recording")._value.get() == skipped + 1
    with runtime.db.session() as session:
        failed = session.scalars(select(Notification).where(Notification.receiver == "recording")).all()
    assert [(n.state, n.changes[0]["alert"]["case"], n.last_error) for n in failed] == [
        ("failed", "poison", "refused for good: no such topic")]


def test_a_retryable_failure_keeps_the_cursor_and_the_changes_go_out_after_the_back_off(runtime):
    channel = Recording()
    relay = relay_for(runtime, channel)
    start = cursor(runtime, "recording")
    send(runtime, ("a", "t1", "seated", T - timedelta(seconds=150)), now=T)
    channel.away = True
    assert relay.step(T) == 0
    assert cursor(runtime, "recording") == start
    assert relay.step(T) == 0  # backing off: not even tried
    channel.away = False
    relay._retry_at = 0.0  # the back-off has passed
    assert relay.step(T) == 1
    assert channel.received == ["t1"]
    assert cursor(runtime, "recording") > start
