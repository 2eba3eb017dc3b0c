"""``audit verify`` checks the figures too (SPEC §7): every stored clock is derived again from the chained
events, standards versions, re-judgements and status messages, every alert row from its chained
actions; a row changed by SQL breaks the check with kind ``clock`` or ``alert`` and names it — on
SQLite and PostgreSQL, through the function, the API and the CLI."""
from __future__ import annotations

import json
import random
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner

from monitor import verification
from monitor.cli import main
from monitor.ingest import Delivery
from tests.conftest import FLOOR, M, S, T, run_sql, send



@pytest.fixture
def app(installed_app):
    return installed_app


def status(runtime, state: str, at: datetime) -> None:
    runtime.ingestor.ingest([Delivery(json.dumps({"state": state, "at": at.isoformat()}).encode(), "test",
                                      site="bj-01", device="tab", kind="status")], now=at)


@pytest.fixture
def floor(runtime):
    """Every kind of clock and alert: met, missed, breached (acknowledged), cancelled, paused, a data gap,
    clocks judged by two versions, a re-judged window."""
    send(runtime, ("s1", "t1", "seated", T), ("g1", "t1", "greeted", T + 30 * S))              # met
    send(runtime, ("s2", "t2", "seated", T), now=T)
    runtime.scheduler.step(T + 90 * S)                                                          # warning
    runtime.scheduler.step(T + 2 * M + S)                                                       # breaches
    send(runtime, ("g2", "t2", "greeted", T + 3 * M))                                           # missed, resolved
    send(runtime, ("s3", "t3", "seated", T + M), ("l3", "t3", "left", T + 2 * M))               # cancelled
    send(runtime, ("i4", "t4", "ticket_issued", T), ("p4", "t4", "docs_requested", T + M), now=T + 2 * M)  # paused
    send(runtime, ("o5", "t5", "drink_ordered", T, {"attrs": {"order_id": "A"}}),
         ("o6", "t5", "drink_ordered", T + S, {"attrs": {"order_id": "B"}}),
         ("v5", "t5", "drink_served", T + 3 * M, {"attrs": {"order_id": "A"}}), now=T + 3 * M)
    status(runtime, "offline", T + 4 * M)
    send(runtime, ("s7", "t7", "seated", T + 3 * M), now=T + 4 * M)
    runtime.scheduler.step(T + 5 * M + S)                                                       # breach, data gap
    status(runtime, "online", T + 8 * M)
    runtime.scheduler.step(T + 10 * M)
    runtime.registry.save("floor.yaml", FLOOR.replace("within: 2m\n", "within: 3m\n", 1), "ops", now=T + 11 * M)
    send(runtime, ("s8", "t8", "seated", T + 12 * M), ("g8", "t8", "greeted", T + 14 * M + 30 * S))  # v2: met
    runtime.rejudge("greet", T + 2 * M, T + 4 * M, "ops", now=T + 15 * M)                       # t7 by v2
    runtime.scheduler.step(T + 20 * M)
    return runtime


run = run_sql


def checked(runtime):
    return verification.verify(runtime.db)


def clock_id(engine, case, standard="greet", key="") -> int:
    return run(engine, "SELECT id FROM clocks WHERE case_id = :c AND standard_id = :s AND key = :k", c=case,
               s=standard, k=key).scalar_one()


def test_the_figures_of_a_busy_floor_verify(floor, sql):
    counts = verification.Counts()
    with floor.db.read_session() as session:
        assert verification.check_figures(session, counts=counts) is None
    states = dict(run(sql, "SELECT case_id || '/' || standard_id || '/' || key, state FROM clocks").all())
    assert states == {"t1/greet/": "met", "t2/greet/": "missed", "t3/greet/": "cancelled",
                      "t4/call-ticket/": "paused", "t5/drinks/A": "met", "t5/drinks/B": "breached",
                      "t7/greet/": "breached", "t8/greet/": "met"}
    assert run(sql, "SELECT version FROM clocks WHERE case_id = 't7'").scalar_one() == 2
    assert run(sql, "SELECT data_gap FROM clocks WHERE case_id = 't7'").scalar_one() in (True, 1)
    assert (counts.clocks, counts.alerts) == (8, run(sql, "SELECT count(*) FROM alerts").scalar_one())
    assert checked(floor).ok


@pytest.mark.parametrize("statement, row, field", [
    ("UPDATE clocks SET state = 'met' WHERE id = :id", ("t2", "greet", ""), "state is 'met'"),
    ("UPDATE clocks SET deadline = :later WHERE id = :id", ("t2", "greet", ""), "deadline is"),
    ("UPDATE clocks SET version = 2 WHERE id = :id", ("t2", "greet", ""), "version is 2"),
    ("UPDATE clocks SET data_gap = :no WHERE id = :id", ("t7", "greet", ""), "data_gap is False"),
    ("UPDATE clocks SET duration_s = 60 WHERE id = :id", ("t2", "greet", ""), "duration_s is 60.0"),
    ("UPDATE clocks SET stop_at = NULL, state = 'breached' WHERE id = :id", ("t2", "greet", ""), "state is"),
    ("UPDATE clocks SET state = 'running', updated_at = :before WHERE id = :id", ("t5", "drinks", "B"), "state is"),
    ("DELETE FROM clocks WHERE id = :id", ("t2", "greet", ""), "is missing"),
])
def test_a_clock_changed_by_sql_breaks_verify_with_kind_clock(floor, sql, statement, row, field):
    victim = clock_id(sql, *row)
    run(sql, statement, id=victim, later=(T + 9 * M).replace(tzinfo=None), before=T.replace(tzinfo=None),
        no=False)
    broken = checked(floor).first_broken
    assert broken["kind"] == "clock" and broken["seq"] is None
    assert field in broken["reason"] and f"case {row[0]!r}" in broken["reason"]
    if not statement.startswith("DELETE"):
        assert broken["reason"].startswith(f"clock {victim} ({row[1]}, case {row[0]!r}")


def test_a_clock_inserted_by_sql_breaks_verify(floor, sql):
    run(sql, "INSERT INTO clocks (standard_id, version, case_id, key, site, staff, state, start_event_id, start_at, "
             "start_local, deadline, data_gap, updated_at) VALUES ('greet', 1, 't9', '', 'bj-01', NULL, 'met', 'x', "
             ":at, '2026-11-24 18:00:00', :at, :no, :at)", at=T.replace(tzinfo=None), no=False)
    broken = checked(floor).first_broken
    assert broken["kind"] == "clock" and "is not given by the chained events" in broken["reason"]


@pytest.mark.parametrize("statement, found", [
    ("UPDATE alerts SET state = 'resolved' WHERE case_id = 't5' AND kind = 'breach'", "state is 'resolved'"),
    ("UPDATE alerts SET acknowledged_by = 'nobody' WHERE case_id = 't2' AND kind = 'breach'", "acknowledged_by"),
    ("UPDATE alerts SET due_at = :later WHERE case_id = 't7' AND kind = 'breach'", "due_at"),
    ("DELETE FROM alerts WHERE case_id = 't5' AND kind = 'breach'", "was deleted"),
])
def test_an_alert_changed_by_sql_breaks_verify_with_kind_alert(floor, sql, client, admin, statement, found):
    assert client.post(f"/api/v1/alerts/{alert_id(sql, 't2')}/ack", json={"note": "x"}, headers=admin).status_code \
        in (200, 409)
    assert checked(floor).ok
    run(sql, statement, later=(T + 30 * M).replace(tzinfo=None))
    broken = checked(floor).first_broken
    assert broken["kind"] == "alert" and found in broken["reason"], broken
    assert isinstance(broken["seq"], int)  # the link of the action the row no longer matches


def alert_id(engine, case) -> str:
    return run(engine, "SELECT id FROM alerts WHERE case_id = :c AND kind = 'breach'", c=case).scalar_one()


def test_an_alert_inserted_by_sql_breaks_verify(floor, sql):
    run(sql, "INSERT INTO alerts (id, kind, step, standard_id, version, site, case_id, key, state, due_at, opened_at) "
             "VALUES ('forged', 'breach', 0, 'greet', 1, 'bj-01', 't1', '', 'open', :at, :at)", at=T.replace(tzinfo=None))
    broken = checked(floor).first_broken
    assert broken == {"seq": None, "kind": "alert",
                      "reason": "alert forged (breach of greet, case 't1') has no chained action (inserted behind the "
                                "service's back)"}


def test_a_status_row_changed_by_sql_breaks_verify(floor, sql):
    run(sql, "UPDATE device_status SET received_at = :at WHERE state = 'offline'", at=(T - M).replace(tzinfo=None))
    assert checked(floor).first_broken["kind"] == "device_status"


def test_the_api_and_the_cli_name_the_clock(floor, sql, client, admin, db_url):
    clean = CliRunner().invoke(main, ["audit", "verify"], env={"MONITOR_DATABASE_URL": db_url})
    assert clean.exit_code == 0 and "checked 8 of 8 clocks" in clean.stderr
    victim = clock_id(sql, "t2")
    run(sql, "UPDATE clocks SET state = 'met' WHERE id = :id", id=victim)
    body = client.get("/api/v1/audit/verify", headers=admin).json
    assert body["ok"] is False and body["first_broken"]["kind"] == "clock"
    assert body["first_broken"]["reason"] == (f"clock {victim} (greet, case 't2'): state is 'met', the chained events "
                                              "and standards versions give 'missed'")
    result = CliRunner().invoke(main, ["audit", "verify"], env={"MONITOR_DATABASE_URL": db_url})
    assert result.exit_code == 1
    assert result.stdout.splitlines()[1] == f"first difference (clock): {body['first_broken']['reason']}"


def test_figures_stream_in_ranges_and_find_the_same_difference(floor, sql):
    with floor.db.read_session() as session:
        assert verification.check_figures(session, events_per_range=2) is None  # every range boundary case
    run(sql, "UPDATE clocks SET state = 'met' WHERE id = :id", id=clock_id(sql, "t7"))
    with floor.db.read_session() as session:
        small = verification.check_figures(session, events_per_range=1)
        large = verification.check_figures(session)
    assert small == large and "case 't7'" in str(small["reason"])


@pytest.mark.parametrize("seed", [13, 14, 15])
def test_random_floors_always_verify(runtime, seed):
    """Whatever the order of events (late, and a little ahead), scheduler steps, saves, status messages and
    re-judgements, the stored figures are exactly what the chain gives: no false alarm."""
    rng = random.Random(seed)
    now = T
    versions = ["within: 2m\n", "within: 3m\n", "within: 100s\n"]
    for step in range(120):
        now += timedelta(seconds=rng.randint(1, 40))
        roll = rng.random()
        case = f"r{rng.randint(1, 12)}"
        if roll < 0.55:
            kind = rng.choice(["seated", "greeted", "left", "drink_ordered", "drink_served", "ticket_issued",
                               "ticket_called", "docs_requested", "docs_received"])
            at = now - timedelta(seconds=rng.randint(-200, 200))
            extra = {"attrs": {"order_id": rng.choice("AB")}} if kind.startswith("drink") else {}
            send(runtime, (f"e{step}", case, kind, at, extra), now=now)
        elif roll < 0.8:
            runtime.scheduler.step(now)
        elif roll < 0.9:
            runtime.registry.save("floor.yaml", FLOOR.replace("within: 2m\n", rng.choice(versions), 1), "ops",
                                  now=now)
        elif roll < 0.95:
            status(runtime, rng.choice(["offline", "online"]), now)
        else:
            runtime.rejudge("greet", now - timedelta(minutes=rng.randint(1, 30)),
                            now + timedelta(minutes=rng.randint(0, 5)), "ops", now=now)
        if step % 40 == 39:
            result = checked(runtime)
            assert result.ok, (step, result.first_broken)


def test_the_figures_are_checked_on_the_chains_snapshot(floor, monkeypatch):
    from tests.test_audit import ingest_during_the_check

    ingest_during_the_check(monkeypatch, floor)  # an event and its clock committed while verify runs
    result = checked(floor)
    assert result.ok, result.first_broken
    monkeypatch.undo()
    assert checked(floor).ok and checked(floor).records == result.records + 1
