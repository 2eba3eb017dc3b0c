"""Bursts take the bulk paths (keys allocated up front, COPY on PostgreSQL); what they store must read
back exactly as what a single event stores, and the audit chain and the action log must stay whole."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from monitor.store import audit, bulk
from monitor.store.models import AlertAction, AlertRow, ClockRow, EventRow, StandardsVersion
from tests.conftest import send

T = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)
BURST = 3 * bulk.COPY_FROM  # well over the COPY threshold


def burst(runtime, first: int, count: int, at: datetime) -> None:
    send(runtime, *[(f"e{i}", f"t{i}", "seated", at, {"staff": "ann", "attrs": {"table": i, "vip": i % 2 == 0}})
                    for i in range(first, first + count)])


def test_a_burst_stores_events_clocks_alerts_and_actions_as_a_single_event_does(runtime):
    send(runtime, ("e-single", "t-single", "seated", T, {"staff": "ann", "attrs": {"table": 0, "vip": True}}))
    burst(runtime, 1, BURST, T)
    runtime.scheduler.step(T + timedelta(minutes=2, seconds=1))  # every table breached (the warning is skipped)

    with runtime.db.read_session() as session:
        events = {e.id: e for e in session.scalars(select(EventRow))}
        clocks = {c.case_id: c for c in session.scalars(select(ClockRow))}
        alerts = session.scalars(select(AlertRow)).all()
        actions = session.scalars(select(AlertAction).order_by(AlertAction.seq)).all()
    assert len(events) == BURST + 1
    single, bulk_event = events["e-single"], events["e1"]
    assert bulk_event.attrs == {"table": 1, "vip": False} and single.attrs == {"table": 0, "vip": True}
    assert bulk_event.at == single.at == T and bulk_event.at.tzinfo is not None
    assert sorted(e.seq for e in events.values()) == list(range(1, BURST + 2))  # keys allocated in order
    assert {c.state for c in clocks.values()} == {"breached"} and len(clocks) == BURST + 1
    assert {(a.kind, a.to, a.due_at, a.state) for a in alerts} == {
        ("breach", "floor-server", T + timedelta(minutes=2), "open")}
    assert len(alerts) == BURST + 1
    assert [a.seq for a in actions] == list(range(actions[0].seq, actions[0].seq + len(actions)))
    assert {a.alert["id"] for a in actions} == {a.id for a in alerts}
    assert audit.verify(runtime.db).ok


def test_the_action_log_and_the_chain_stay_in_order_across_bursts(runtime):
    burst(runtime, 0, BURST, T)
    runtime.scheduler.step(T + timedelta(seconds=91))
    burst(runtime, BURST, BURST, T + timedelta(seconds=30))
    runtime.scheduler.step(T + timedelta(minutes=3))

    with runtime.db.read_session() as session:
        seqs = session.scalars(select(AlertAction.seq).order_by(AlertAction.seq)).all()
        versions = len(session.scalars(select(StandardsVersion.id)).all())
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    result = audit.verify(runtime.db)
    assert result.ok and result.records == 2 * BURST + len(seqs) + versions
