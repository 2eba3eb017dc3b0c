"""Alerts over time through the real services, with the clock injected (no sleeping)."""
from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from monitor import metrics
from monitor.auth import create_token
from monitor.evaluator import CaseEvaluator
from monitor.ingest import Delivery
from monitor.runtime import Runtime
from monitor.store.models import AlertRow, ClockRow
from tests.conftest import send

T = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)
S = timedelta(seconds=1)
M = timedelta(minutes=1)


def device_status(runtime, state: str, at: datetime) -> None:
    raw = json.dumps({"state": state, "at": at.isoformat()}).encode()
    runtime.ingestor.ingest([Delivery(raw, "test", site="bj-01", device="tab", kind="status")], now=at)


def alerts(runtime, case=None) -> list[tuple]:
    with runtime.db.session() as session:
        query = select(AlertRow).order_by(AlertRow.due_at, AlertRow.kind)
        if case:
            query = query.where(AlertRow.case_id == case)
        return [(a.standard_id, a.kind, a.step, a.state, a.resolution) for a in session.scalars(query)]


def clock(runtime, case, standard="greet", key=""):
    with runtime.db.session() as session:
        return session.scalar(select(ClockRow).where(ClockRow.case_id == case, ClockRow.standard_id == standard,
                                                     ClockRow.key == key))


def test_it_opens_warning_breach_and_escalation_each_at_its_due_time_and_once(runtime):
    send(runtime, ("s1", "t1", "seated", T))
    assert runtime.scheduler.step(T + 89 * S) == 0
    assert runtime.scheduler.step(T + 90 * S) == 1
    assert alerts(runtime) == [("greet", "warning", 0, "open", None)]
    runtime.scheduler.step(T + 2 * M + S)
    runtime.scheduler.step(T + 2 * M + 2 * S)  # a second pass at the same point opens nothing more
    runtime.scheduler.step(T + 3 * M + S)
    assert alerts(runtime) == [("greet", "warning", 0, "open", None), ("greet", "breach", 0, "open", None),
                               ("greet", "escalation", 1, "open", None)]
    assert clock(runtime, "t1").state == "breached"


def test_opened_at_is_the_step_time_and_due_at_the_rule_time(runtime):
    send(runtime, ("s1", "t1", "seated", T))
    runtime.scheduler.step(T + 2 * M + 300 * timedelta(milliseconds=1))
    with runtime.db.session() as session:
        breach = session.scalar(select(AlertRow).where(AlertRow.kind == "breach"))
    assert breach.due_at == T + 2 * M
    assert breach.opened_at - breach.due_at == timedelta(milliseconds=300)
    assert breach.to == "floor-server"


def test_a_start_learned_after_its_deadline_opens_the_breach_at_once(runtime):
    send(runtime, ("s1", "t1", "seated", T), now=T + 150 * S)
    assert alerts(runtime) == [("greet", "breach", 0, "open", None)]


def test_a_late_stop_dated_before_the_deadline_retracts_the_breach(runtime):
    send(runtime, ("s1", "t1", "seated", T))
    runtime.scheduler.step(T + 90 * S)
    runtime.scheduler.step(T + 2 * M + S)
    send(runtime, ("g1", "t1", "greeted", T + 100 * S), now=T + 2 * M + 5 * S)
    assert alerts(runtime) == [("greet", "warning", 0, "resolved", "stopped"),
                               ("greet", "breach", 0, "retracted", "retracted")]
    assert clock(runtime, "t1").state == "met"


def test_a_stop_after_the_deadline_resolves_and_a_cancel_says_cancelled(runtime):
    send(runtime, ("s1", "t1", "seated", T), ("s2", "t2", "seated", T))
    runtime.scheduler.step(T + 90 * S)
    runtime.scheduler.step(T + 2 * M + S)
    send(runtime, ("g1", "t1", "greeted", T + 150 * S), ("l2", "t2", "left", T + 150 * S))
    assert [a[3:] for a in alerts(runtime, "t1")] == [("resolved", "stopped")] * 2
    assert [a[3:] for a in alerts(runtime, "t2")] == [("resolved", "cancelled")] * 2
    assert clock(runtime, "t1").state == "missed" and clock(runtime, "t2").state == "cancelled"
    assert runtime.scheduler.step(T + 10 * M) == 0  # nothing more falls due for stopped clocks


def test_an_acknowledged_breach_skips_escalations_unless_a_step_insists(runtime, client, admin):
    send(runtime, ("s1", "t1", "seated", T))
    runtime.scheduler.step(T + 2 * M + S)
    breach = client.get("/api/v1/alerts?kind=breach", headers=admin).json["items"][0]
    response = client.post(f"/api/v1/alerts/{breach['id']}/ack", json={"note": "on my way"}, headers=admin)
    assert response.status_code == 200
    assert (response.json["state"], response.json["note"], response.json["acknowledged_by"]) == (
        "acknowledged", "on my way", "admin-token")
    runtime.scheduler.step(T + 3 * M + S)
    runtime.scheduler.step(T + 5 * M + S)
    kinds = [(a[1], a[2]) for a in alerts(runtime)]
    assert ("escalation", 1) not in kinds
    assert ("escalation", 2) in kinds  # even_if_acknowledged: true


def test_ack_errors_are_json_with_the_right_status(runtime, client, admin):
    assert client.post("/api/v1/alerts/nope/ack", json={}, headers=admin).status_code == 404
    send(runtime, ("s1", "t1", "seated", T))
    runtime.scheduler.step(T + 2 * M + S)
    send(runtime, ("g1", "t1", "greeted", T + 10 * S), now=T + 2 * M + 2 * S)
    retracted = client.get("/api/v1/alerts?state=retracted", headers=admin).json["items"][0]
    conflict = client.post(f"/api/v1/alerts/{retracted['id']}/ack", json={}, headers=admin)
    assert conflict.status_code == 409 and conflict.json["error"]["code"] == "conflict"
    with runtime.db.session() as session:
        _, auditor = create_token(session, "auditor")
    forbidden = client.post(f"/api/v1/alerts/{retracted['id']}/ack", json={},
                            headers={"Authorization": f"Bearer {auditor}"})
    assert forbidden.status_code == 403


def test_a_paused_clock_raises_nothing_and_its_deadline_moves_by_the_pause(runtime):
    send(runtime, ("i1", "q1", "ticket_issued", T), ("p1", "q1", "docs_requested", T + 5 * M))
    assert runtime.scheduler.step(T + 30 * M) == 0
    assert alerts(runtime) == [] and clock(runtime, "q1", "call-ticket").state == "paused"
    send(runtime, ("r1", "q1", "docs_received", T + 20 * M), now=T + 30 * M)
    assert clock(runtime, "q1", "call-ticket").deadline == T + 25 * M
    assert alerts(runtime) == [("call-ticket", "breach", 0, "open", None)]


def test_each_drink_order_has_its_own_clock(runtime):
    send(runtime, ("o1", "t1", "drink_ordered", T, {"attrs": {"order_id": "A"}}),
         ("o2", "t1", "drink_ordered", T + M, {"attrs": {"order_id": "B"}}),
         ("v1", "t1", "drink_served", T + 3 * M, {"attrs": {"order_id": "B"}}))
    runtime.scheduler.step(T + 6 * M)
    assert clock(runtime, "t1", "drinks", "A").state == "breached"
    assert clock(runtime, "t1", "drinks", "B").state == "met"
    assert [(a[0], a[1]) for a in alerts(runtime)] == [("drinks", "breach")]


def test_nothing_fires_twice_after_a_restart(db_url, runtime):
    from tests.conftest import app_config
    from monitor.config import Config

    send(runtime, ("s1", "t1", "seated", T))
    runtime.scheduler.step(T + 2 * M + S)
    runtime.db.dispose()
    restarted = Runtime(Config.load(overrides=app_config(db_url)))
    restarted.prepare()
    assert restarted.scheduler.step(T + 2 * M + 5 * S) == 0
    restarted.scheduler.step(T + 3 * M + S)
    assert [(a[1], a[2]) for a in alerts(restarted)] == [("breach", 0), ("escalation", 1)]
    restarted.db.dispose()


def test_two_schedulers_claim_each_due_clock_once(db_url, runtime):
    from tests.conftest import app_config
    from monitor.config import Config

    send(runtime, *[(f"s{i}", f"t{i}", "seated", T) for i in range(40)])
    other = Runtime(Config.load(overrides=app_config(db_url)))
    other.prepare()
    claimed = []
    barrier = threading.Barrier(2)

    def work(rt):
        barrier.wait()
        claimed.append(rt.scheduler.step(T + 2 * M + S))

    threads = [threading.Thread(target=work, args=(rt,)) for rt in (runtime, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(claimed) == 40
    assert len([a for a in alerts(runtime) if a[1] == "breach"]) == 40
    other.db.dispose()


def test_a_data_gap_marks_clocks_judged_while_a_device_was_offline(runtime):
    send(runtime, ("s1", "t1", "seated", T))
    device_status(runtime, "offline", T + M)
    runtime.scheduler.step(T + 2 * M + S)
    assert clock(runtime, "t1").data_gap is True
    assert ("greet", "breach", 0, "open", None) in alerts(runtime)  # the alert still fires


def test_a_device_back_online_after_a_deadline_flags_the_gap(runtime):
    device_status(runtime, "offline", T)
    send(runtime, ("s1", "t1", "seated", T), now=T + 5 * M)
    device_status(runtime, "online", T + 6 * M)
    send(runtime, ("s2", "t2", "seated", T + 7 * M), now=T + 7 * M)
    runtime.scheduler.step(T + 10 * M)
    assert clock(runtime, "t1").data_gap is True
    assert clock(runtime, "t2").data_gap is False


class PoisonedEvaluator(CaseEvaluator):
    """Evaluation raises for one case, as a bug met only by that case's data would."""

    def _chunk(self, session, case_ids, *args, **kwargs):
        if "poison" in case_ids:
            raise RuntimeError("evaluation of the poisoned case raises")
        return super()._chunk(session, case_ids, *args, **kwargs)


def test_a_poisoned_case_is_parked_and_every_other_alert_opens_on_time(runtime, client):
    send(runtime, ("p1", "poison", "seated", T - S))  # due first, so a stuck scheduler would claim it every time
    send(runtime, *[(f"s{i}", f"t{i}", "seated", T) for i in range(5)])
    base = runtime.evaluator
    runtime.scheduler.evaluator = PoisonedEvaluator(base.registry, base.site_timezone, base.skew)
    parked_before = metrics.CASES_PARKED.labels("scheduler")._value.get()

    assert runtime.scheduler.step(T + 90 * S) == 6
    with runtime.db.session() as session:
        warnings = session.scalars(select(AlertRow).where(AlertRow.kind == "warning")).all()
    assert sorted(a.case_id for a in warnings) == [f"t{i}" for i in range(5)]
    assert {a.opened_at for a in warnings} == {T + 90 * S}
    assert clock(runtime, "poison").next_due_at == T + 90 * S + runtime.scheduler.park_for
    assert metrics.CASES_PARKED.labels("scheduler")._value.get() == parked_before + 1
    assert "smartmon_cases_parked_total" in client.get("/metrics").text

    # the breaches come a step later, on time, although the poisoned clock is still failing
    assert runtime.scheduler.step(T + 2 * M) == 5
    assert len([a for a in alerts(runtime) if a[1] == "breach"]) == 5
    # once parked out, the poisoned case is tried again (and parked again while it still fails)
    assert runtime.scheduler.step(T + 90 * S + runtime.scheduler.park_for) == 1
    assert metrics.CASES_PARKED.labels("scheduler")._value.get() == parked_before + 2
    # fixed (e.g. a new standards version): it catches up with its alerts
    runtime.scheduler.evaluator = base
    runtime.scheduler.step(T + 5 * M)
    assert ("greet", "breach", 0, "open", None) in alerts(runtime, "poison")
