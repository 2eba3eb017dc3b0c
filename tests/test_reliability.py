"""Reliability against real processes (issue #6): kill -9 and SIGTERM of the service, a broker
restart, a database outage and a database slower than the event stream.

Every test runs the real ``python -m monitor run`` process (tests/service.py) against its own
throwaway Mosquitto (tests/conftest.py ``Mosquitto``, persistence on) and, for the database
outage, its own throwaway PostgreSQL cluster (tests/faults.py ``PgCluster``); the machine's shared
broker and database are never stopped. Tests wait on conditions; the only deliberate passing of
time is an outage's length.

Running the long fault runs (README)
------------------------------------
The suite keeps every outage short (``SMARTMON_FAULT_SECONDS``, default 3 s) and the streams
small. For a soak run, lengthen the outages and the streams, e.g.::

    SMARTMON_FAULT_SECONDS=60 SMARTMON_FAULT_EVENTS=30000 SMARTMON_FAULT_KILLS=5 \\
        python -m pytest tests/test_reliability.py -v -s

``SMARTMON_FAULT_SECONDS`` is how long the broker or PostgreSQL stays down and how long the
database lock is held; ``SMARTMON_FAULT_EVENTS`` the events streamed in the kill -9 test;
``SMARTMON_FAULT_KILLS`` how many times that test kills the service. ``-s`` prints what was
published, stored, killed and timed. Longer outages than the Mosquitto session expiry (1 h) or the
service's busy timeout (30 s on SQLite) change the scenario, not the expectations: nothing is lost.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from datetime import timedelta

import paho.mqtt.client as paho
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests import faults
from tests.harness.processes import wait_for
from tests.faults import (
    FAULT_SECONDS,
    PREFIX,
    ServiceDb,
    Publisher,
    RssSampler,
    build_stream,
    health,
    new_service,
    now_utc,
    report,
    rss,
    stream,
)

broker, standards, services, pg = faults.broker, faults.standards, faults.services, faults.pg  # fixtures

pytestmark = pytest.mark.slow

EVENTS = int(os.environ.get("SMARTMON_FAULT_EVENTS", "3000"))
KILLS = int(os.environ.get("SMARTMON_FAULT_KILLS", "2"))
MiB = 1024 * 1024


class AlertListener:
    """The floor screen: counts alert notifications per alert id on ``P/{site}/alerts``.

    ``persistent`` gives it its own broker session (as a wall screen would have), so notifications
    sent while it is away - a broker restart - wait for it in the broker."""

    def __init__(self, mqtt_url: str, site: str, persistent: bool = False) -> None:
        host, port = mqtt_url.removeprefix("mqtt://").split(":")
        self.opened: dict[str, int] = {}
        self.seen: list[dict] = []
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"floor-{uuid.uuid4().hex[:8]}",
                                  protocol=paho.MQTTv5)
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.1, 1)
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = 3600 if persistent else 0
        self.client.connect(host, int(port), clean_start=not persistent, properties=properties)
        self.client.loop_start()
        self.client.subscribe(f"{PREFIX}/{site}/alerts", qos=1)
        assert subscribed.wait(5)

    def _on_message(self, client, userdata, message) -> None:
        alert = json.loads(message.payload)
        self.seen.append(alert)
        if alert.get("state") == "open":
            self.opened[alert["id"]] = self.opened.get(alert["id"], 0) + 1

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


# -- 1. crash safety ----------------------------------------------------------------------------
def test_kill_9_mid_stream_stores_every_event_once_and_ends_as_a_run_without_kills(tmp_path, broker, standards,
                                                                                      services):
    """A reference service and a victim consume the same stream; the victim is killed -9 mid-stream
    (twice by default) and restarted with the same client id and database. Both must end with the
    same events, clocks and alerts, which are also the ones the stream was designed to produce."""
    reference = new_service(services, tmp_path, broker, standards, "reference")
    victim = new_service(services, tmp_path, broker, standards, "victim")
    for service in (reference, victim):
        service.start(wait_healthy=False)
    for service in (reference, victim):
        wait_for(service.healthy, timeout=30, message=f"service healthy (log: {service.log})")
    floor = AlertListener(broker.url, "rel-01")
    t0 = now_utc()
    plan = build_stream(t0, EVENTS, due_from=3, due_to=10)
    victim_db, reference_db = ServiceDb(victim.env["MONITOR_DATABASE_URL"]), ServiceDb(reference.env["MONITOR_DATABASE_URL"])
    publisher = Publisher(broker.url)
    publishing = threading.Thread(target=stream, args=(publisher, plan.messages, len(plan.messages) / 5.0))
    began = time.monotonic()
    publishing.start()

    kills = []
    for number in range(1, KILLS + 1):
        threshold = plan.events * number // (KILLS + 1)
        wait_for(lambda n=threshold: victim_db.events() >= n, timeout=60, message=f"victim stored {threshold} events")
        victim.kill()
        kills.append({"at_s": round(time.monotonic() - began, 2), "stored": victim_db.events(),
                      "alerts": len(victim_db.alerts()), "published": publisher.published})
        restart = time.monotonic()
        victim.start()
        kills[-1]["restart_s"] = round(time.monotonic() - restart, 2)
    publishing.join(timeout=120)
    wait_for(publisher.all_acked, timeout=30, message="the broker took every message")
    wait_for(lambda: victim_db.events() == plan.events and reference_db.events() == plan.events, timeout=60,
             message=f"{plan.events} events stored by both services")
    drained_s = round(time.monotonic() - began, 2)

    # Past the last due time, both must have opened exactly the designed alerts (a warning only when
    # the service stored the ticket before its deadline: see Stream.expected_alerts).
    def settled() -> bool:
        return (now_utc() > plan.last_due + timedelta(seconds=1.5)
                and set(victim_db.alerts()) == plan.expected_alerts(victim_db.received_at())
                and set(reference_db.alerts()) == plan.expected_alerts(reference_db.received_at()))

    wait_for(settled, timeout=60, message="the designed alerts in both services")

    assert sorted(victim_db.event_ids()) == sorted(plan.event_ids)
    assert victim_db.scalar("SELECT count(DISTINCT id) FROM events") == plan.events
    victim_clocks, reference_clocks = victim_db.clocks(), reference_db.clocks()
    assert {k: v[0] for k, v in victim_clocks.items()} == plan.clocks
    assert victim_clocks == reference_clocks  # state, start, deadline, stop, cancel, duration
    victim_alerts, reference_alerts = victim_db.alerts(), reference_db.alerts()
    assert _without_warnings(victim_alerts) == _without_warnings(reference_alerts)
    assert all(state == "open" for state, *_ in victim_alerts.values())
    openings = victim_db.opening_actions_per_alert()
    assert len(openings) == len(victim_alerts) and set(openings.values()) == {1}, "an alert was opened twice"
    verify = victim.api("GET", "/audit/verify")
    if verify.status_code == 200:
        assert verify.json()["ok"], verify.json()

    victim_ids = set(victim_db.rows("SELECT id FROM alerts"))
    notified = {alert_id: n for alert_id, n in floor.opened.items() if (alert_id,) in victim_ids}
    floor.close()
    report("kill -9", events=plan.events, messages=len(plan.messages), kills=kills, drained_s=drained_s,
           alerts=len(victim_alerts), reference_alerts=len(reference_alerts), duplicate_alerts=0,
           warnings_skipped_as_late=len(plan.alerts) - len(victim_alerts),
           victim_alerts_notified_on_mqtt=f"{len(notified)}/{len(victim_ids)}",
           notified_more_than_once=sum(1 for n in notified.values() if n > 1))
    publisher.close()
    victim_db.dispose()
    reference_db.dispose()


def _without_warnings(alerts: dict) -> dict:
    """(standard, case, key, kind, step) → (state, due_at), warnings left out."""
    return {k: (v[0], v[1]) for k, v in alerts.items() if k[3] != "warning"}


def test_sigterm_drains_and_exits_0_within_seconds_and_loses_nothing(tmp_path, broker, standards, services):
    service = new_service(services, tmp_path, broker, standards, "sigterm").start()
    db = ServiceDb(service.env["MONITOR_DATABASE_URL"])
    plan = build_stream(now_utc(), 2000, due_from=240, due_to=240)
    publisher = Publisher(broker.url)
    publishing = threading.Thread(target=stream, args=(publisher, plan.messages, len(plan.messages) / 3.0))
    publishing.start()
    wait_for(lambda: db.events() >= plan.events // 3, timeout=30, message="a third of the stream stored")
    signalled = time.monotonic()
    code = service.terminate()
    exit_s = time.monotonic() - signalled
    stored_at_exit = db.events()
    assert code == 0, service.log.read_text()[-3000:]
    assert exit_s < 5, f"SIGTERM took {exit_s:.1f}s"
    assert "Traceback" not in service.log.read_text()
    publishing.join(timeout=60)
    wait_for(publisher.all_acked, timeout=30)
    service.start()
    wait_for(lambda: db.events() == plan.events, timeout=60, message=f"{plan.events} events after the restart")
    assert sorted(db.event_ids()) == sorted(plan.event_ids)
    report("SIGTERM", events=plan.events, exit_code=code, exit_s=round(exit_s, 2), stored_at_exit=stored_at_exit)
    publisher.close()
    db.dispose()


def _down(service) -> tuple[int, dict] | None:
    status, body = health(service)
    return (status, body) if status == 503 else None


# -- 2. broker restart --------------------------------------------------------------------------
def test_broker_restart_healthz_names_mqtt_and_every_event_before_during_after_is_stored_once(
        tmp_path, broker, standards, services):
    service = new_service(services, tmp_path, broker, standards, "broker-restart").start()
    db = ServiceDb(service.env["MONITOR_DATABASE_URL"])
    publisher = Publisher(broker.url, client_id=f"device-{uuid.uuid4().hex[:6]}")
    t0 = now_utc()
    before, during, after = (build_stream(t0, 600, due_from=240, due_to=240, tag=tag)
                             for tag in ("before-", "during-", "after-"))

    stream(publisher, before.messages)
    wait_for(publisher.all_acked, timeout=30, message="the broker took the 'before' messages")
    broker.stop()  # SIGTERM: Mosquitto writes its persistent store (sessions, queued messages)
    down_at = time.monotonic()
    assert broker.store.exists(), "Mosquitto wrote no persistent store: a restart would lose the session"
    stored_at_stop = db.events()
    _, body = wait_for(lambda: _down(service), timeout=10, message="/healthz 503 while the broker is down")
    assert body["mqtt"].startswith("down") and body["database"] == "ok", body

    stream(publisher, during.messages)  # buffered in the device's own paho queue
    assert not publisher.all_acked()
    time.sleep(max(0.0, FAULT_SECONDS - (time.monotonic() - down_at)))  # the outage itself
    assert db.events() < before.events + during.events
    broker.start()
    outage_s = time.monotonic() - down_at
    wait_for(lambda: health(service)[0] == 200, timeout=30, message="/healthz 200 after the broker is back")
    reconnect_s = time.monotonic() - down_at - outage_s

    stream(publisher, after.messages)
    wait_for(publisher.all_acked, timeout=30, message="the broker took every buffered and new message")
    total = before.events + during.events + after.events
    wait_for(lambda: db.events() == total, timeout=60, message=f"{total} events stored")
    assert sorted(db.event_ids()) == sorted(before.event_ids | during.event_ids | after.event_ids)
    assert health(service)[1]["mqtt"] == "ok"
    report("broker restart", published=total, stored=db.events(), stored_when_broker_stopped=stored_at_stop,
           outage_s=round(outage_s, 2), healthz_200_after_restart_s=round(reconnect_s, 2))
    publisher.close()
    db.dispose()


# -- 3. database outage ---------------------------------------------------------------------------
def _due_ticket(case: str, deadline) -> dict:
    return {"id": str(uuid.uuid4()), "case": case, "type": "opened",
            "at": (deadline - timedelta(seconds=20)).isoformat()}


def test_postgres_outage_pauses_ingestion_and_the_alert_due_meanwhile_fires_once_after(
        tmp_path, broker, standards, services, pg):
    service = new_service(services, tmp_path, broker, standards, "pg-outage", db_url=pg.url).start()
    db = ServiceDb(pg.url)
    publisher = Publisher(broker.url)
    t0 = now_utc()
    before, during, after = (build_stream(t0, 300, due_from=240, due_to=240, tag=tag)
                             for tag in ("before-", "during-", "after-"))
    stream(publisher, before.messages)
    deadline = now_utc() + timedelta(seconds=1.5 + FAULT_SECONDS / 2)
    warn_at = deadline - timedelta(seconds=5)  # close-ticket: warn_after 15s of within 20s
    due_ticket = _due_ticket("due-in-outage", deadline)
    publisher.publish(due_ticket)
    wait_for(lambda: db.events() == before.events + 1, timeout=30, message="stored before the outage")

    pg.stop("fast")
    down = now_utc()
    assert down < deadline, "setup too slow: the deadline passed before the outage began"
    _, body = wait_for(lambda: _down(service), timeout=10, message="/healthz 503 while PostgreSQL is down")
    assert body["database"].startswith("down"), body
    stream(publisher, during.messages)
    wait_for(publisher.all_acked, timeout=30, message="the broker took the messages sent during the outage")
    wait_for(lambda: "could not store" in service.log.read_text(), timeout=10,
             message="the service holding a batch it cannot store")
    outage_end = max(down + timedelta(seconds=FAULT_SECONDS), deadline + timedelta(seconds=1))
    time.sleep(max(0.0, (outage_end - now_utc()).total_seconds()))  # the outage itself
    restarting = now_utc()
    pg.start()
    wait_for(lambda: health(service)[0] == 200, timeout=30, message="/healthz 200 after PostgreSQL is back")
    recovered_s = (now_utc() - restarting).total_seconds()

    stream(publisher, after.messages)
    total = before.events + 1 + during.events + after.events
    wait_for(lambda: db.events() == total, timeout=60, message=f"{total} events stored")
    assert sorted(db.event_ids()) == sorted(before.event_ids | during.event_ids | after.event_ids
                                            | {due_ticket["id"]})
    assert db.scalar("SELECT count(DISTINCT id) FROM events") == total

    breach = wait_for(lambda: db.alerts().get(("close-ticket", "due-in-outage", "", "breach", 0)), timeout=10,
                      message="the breach due during the outage")
    _, due_at, opened_at = breach
    assert abs((due_at - deadline).total_seconds()) < 0.001
    assert opened_at >= restarting, f"opened at {opened_at}, before PostgreSQL came back at {restarting}"
    assert (opened_at - restarting).total_seconds() < 10
    wait_for(lambda: ("close-ticket", "due-in-outage", "", "escalation", 1) in db.alerts(), timeout=10)
    # A warning due before the outage went out at once; one that fell due inside the outage, like the
    # deadline after it, is skipped by design (a breach says it all).
    expected = {"warning", "breach", "escalation"} if warn_at < down else {"breach", "escalation"}
    assert {k[3] for k in db.alerts() if k[1] == "due-in-outage"} == expected
    assert set(db.opening_actions_per_alert().values()) == {1}, "an alert was opened more than once"
    report("PostgreSQL outage", published=total, stored=db.events(), outage_s=round((restarting - down).total_seconds(), 2),
           healthz_200_after_restart_s=round(recovered_s, 2),
           breach_due=due_at.isoformat(), breach_opened=opened_at.isoformat())
    publisher.close()
    db.dispose()


def test_postgres_outage_then_kill_9_loses_nothing_because_nothing_was_acknowledged(
        tmp_path, broker, standards, services, pg):
    service = new_service(services, tmp_path, broker, standards, "pg-kill", db_url=pg.url).start()
    db = ServiceDb(pg.url)
    publisher = Publisher(broker.url)
    t0 = now_utc()
    before, during = (build_stream(t0, 300, due_from=240, due_to=240, tag=tag) for tag in ("before-", "during-"))
    stream(publisher, before.messages)
    wait_for(lambda: db.events() == before.events, timeout=30)
    pg.stop("fast")
    down = time.monotonic()
    stream(publisher, during.messages)
    wait_for(publisher.all_acked, timeout=30)
    wait_for(lambda: "could not store" in service.log.read_text(), timeout=10,
             message="the service holding a batch it cannot store")
    service.kill()  # with messages received and not stored: only unacknowledged ones come back
    time.sleep(max(0.0, FAULT_SECONDS - (time.monotonic() - down)))  # the outage itself
    pg.start()
    service.start()
    total = before.events + during.events
    wait_for(lambda: db.events() == total, timeout=60, message=f"{total} events after the restart")
    assert sorted(db.event_ids()) == sorted(before.event_ids | during.event_ids)
    report("PostgreSQL outage + kill -9", published=total, stored=db.events())
    publisher.close()
    db.dispose()


# -- 5. backpressure ------------------------------------------------------------------------------
PAYLOAD_KIB = 24


def _big_event(case: str) -> dict:
    return {"id": str(uuid.uuid4()), "case": case, "type": "noted", "at": now_utc().isoformat(),
            "attrs": {"blob": "x" * (PAYLOAD_KIB * 1024)}}


def test_a_locked_database_slows_the_broker_instead_of_filling_memory(tmp_path, broker, standards, services):
    """While the test holds SQLite's write lock, 3000 messages of 24 KiB (72 MiB) arrive. The service
    may hold at most Receive Maximum (100) unacknowledged messages, about 2.4 MiB of payload; the
    rest must wait in Mosquitto. The 40 MiB limit on RSS growth leaves room for the allocator and
    the parsed copies of one commit batch, and is well under what buffering everything would take."""
    path = tmp_path / "backpressure.db"
    service = new_service(services, tmp_path, broker, standards, "backpressure", db_url=f"sqlite:///{path}").start()
    db = ServiceDb(service.env["MONITOR_DATABASE_URL"])
    publisher = Publisher(broker.url)
    warm = [_big_event(f"warm-{i}") for i in range(300)]
    stream(publisher, warm)
    wait_for(lambda: db.events() == len(warm), timeout=30)
    baseline = rss(service.process.pid)

    lock = sqlite3.connect(path, timeout=30, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    locked = time.monotonic()
    sampler = RssSampler(service.process.pid)
    flood = [_big_event(f"flood-{i}") for i in range(3000)]
    try:
        stream(publisher, flood)
        wait_for(publisher.all_acked, timeout=60, message="Mosquitto took every message")
        time.sleep(max(0.0, FAULT_SECONDS - (time.monotonic() - locked)))  # keep the database slow
        stored_while_locked = db.events()
        peak = sampler.stop()
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    held_s = time.monotonic() - locked
    wait_for(lambda: db.events() == len(warm) + len(flood), timeout=120, message="the flood stored after the lock")
    drained_s = time.monotonic() - locked - held_s
    growth = peak - baseline
    report("backpressure", flooded=len(flood), flooded_mib=round(len(flood) * PAYLOAD_KIB / 1024, 1),
           stored_while_locked=stored_while_locked, lock_held_s=round(held_s, 2),
           rss_baseline_mib=round(baseline / MiB, 1), rss_growth_mib=round(growth / MiB, 1),
           drained_after_unlock_s=round(drained_s, 2))
    assert stored_while_locked == len(warm)
    assert growth < 40 * MiB, f"RSS grew by {growth / MiB:.0f} MiB while the database was locked"
    publisher.close()
    db.dispose()


# -- one bad message must not stop ingestion ------------------------------------------------------
POISON = {
    "an event dated 0001-01-01T00:30:00+01:00": (
        "events", {"id": "poison-1", "case": "poison", "type": "noted", "at": "0001-01-01T00:30:00+01:00"}),
    "a status dated 0001-01-01T00:30:00+01:00": ("status", {"state": "offline", "at": "0001-01-01T00:30:00+01:00"}),
}


@pytest.mark.parametrize("channel, payload", list(POISON.values()), ids=list(POISON))
def test_one_poison_message_is_dead_lettered_and_ingestion_goes_on(tmp_path, broker, standards, services,
                                                                  channel, payload):
    service = new_service(services, tmp_path, broker, standards, "poison").start()
    db = ServiceDb(service.env["MONITOR_DATABASE_URL"])
    publisher = Publisher(broker.url)
    publisher.publish_raw(json.dumps(payload).encode(), f"{PREFIX}/{publisher.site}/{publisher.device}/{channel}")
    good = build_stream(now_utc(), 30, due_from=240, due_to=240, tag="after-poison-")
    stream(publisher, good.messages)
    wait_for(lambda: db.events() == good.events, timeout=5, message="the events behind the poison message")
    assert db.dead_letters() == 1
    publisher.close()
    db.dispose()


# -- alert notifications across a crash -----------------------------------------------------------
def test_a_breach_opened_while_the_broker_is_away_reaches_the_floor_even_if_the_service_then_crashes(
        tmp_path, broker, standards, services):
    service = new_service(services, tmp_path, broker, standards, "notify").start()
    db = ServiceDb(service.env["MONITOR_DATABASE_URL"])
    floor = AlertListener(broker.url, "rel-01", persistent=True)
    publisher = Publisher(broker.url)
    # The warning falls due 3 s from now and the breach 8 s from now: the broker is stopped between.
    deadline = now_utc() + timedelta(seconds=8)
    publisher.publish(_due_ticket("notify-me", deadline))
    wait_for(lambda: ("close-ticket", "notify-me", "", "warning", 0) in db.alerts(), timeout=10)
    broker.stop()
    assert now_utc() < deadline, "the breach fell due before the broker was stopped: the test proves nothing"
    wait_for(lambda: db.alerts().get(("close-ticket", "notify-me", "", "breach", 0)), timeout=10,
             message="the breach opened while the broker is down")
    service.kill()
    broker.start()
    service.start()
    breach_id = db.scalar("SELECT id FROM alerts WHERE case_id = 'notify-me' AND kind = 'breach'")
    wait_for(lambda: breach_id in floor.opened, timeout=5, message="the breach notification on P/rel-01/alerts")
    floor.close()
    publisher.close()
    db.dispose()
