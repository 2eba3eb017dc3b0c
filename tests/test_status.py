"""Device status by receipt (SPEC §2): offline/online intervals are timed by the monitor's received_at,
the device's ``at`` is kept for information only; status rows are in the audit chain; retained
messages on an events topic are ignored (over a real broker)."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import paho.mqtt.client as paho
import pytest
from sqlalchemy import func, select

from monitor.ingest import Delivery
from monitor.store import audit
from monitor.store.models import ClockRow, DeadLetter, DeviceStatus, EventRow
from tests.conftest import app_config, M, run_sql, S, send, T
from tests.harness.processes import wait_for



def status(runtime, state: str, received: datetime, claimed: str | None = None, site: str = "bj-01") -> None:
    body = {"state": state, **({"at": claimed} if claimed else {})}
    runtime.ingestor.ingest([Delivery(json.dumps(body).encode(), "mqtt:smartmon/v1/bj-01/tab/status", site=site,
                                      device="tab", kind="status")], now=received)


def gap(runtime, case: str) -> tuple[str, bool]:
    with runtime.db.session() as session:
        row = session.scalar(select(ClockRow).where(ClockRow.case_id == case, ClockRow.standard_id == "greet"))
        return row.state, row.data_gap


def test_a_backdated_offline_excuses_nothing(runtime):
    send(runtime, ("s1", "t1", "seated", T), now=T)
    runtime.scheduler.step(T + 2 * M + S)
    assert gap(runtime, "t1") == ("breached", False)
    # the retained Last Will: offline "since 1900", received long after the breach, then online
    status(runtime, "offline", T + 10 * M, claimed="1900-01-01T00:00:00Z")
    # online claims the time it came back: timed by the claims, t1's whole life would be offline
    status(runtime, "online", T + 11 * M, claimed=(T + 11 * M).isoformat().replace("+00:00", "Z"))
    runtime.scheduler.step(T + 12 * M)
    send(runtime, ("s2", "t2", "seated", T + 12 * M), ("g2", "t2", "greeted", T + 16 * M), now=T + 16 * M)
    assert gap(runtime, "t1") == ("breached", False) and gap(runtime, "t2") == ("missed", False)
    with runtime.db.session() as session:  # the claimed time is kept, for information
        claimed = session.scalars(select(DeviceStatus.at).order_by(DeviceStatus.seq)).all()
    assert claimed[0] == datetime(1900, 1, 1, tzinfo=timezone.utc)


def test_an_offline_received_before_the_deadline_marks_a_data_gap_whatever_it_claims(runtime):
    send(runtime, ("s1", "t1", "seated", T), now=T)
    status(runtime, "offline", T + M, claimed="2026-11-24T10:30:00Z")  # claims a later time: received decides
    runtime.scheduler.step(T + 2 * M + S)
    status(runtime, "online", T + 5 * M, claimed="2026-11-24T09:00:00Z")
    assert gap(runtime, "t1") == ("breached", True)
    send(runtime, ("s2", "t2", "seated", T + 4 * M), now=T + 6 * M + S)  # deadline after the device came back
    runtime.scheduler.step(T + 6 * M + 2 * S)
    assert gap(runtime, "t2") == ("breached", False)


def test_status_rows_are_in_the_chain(runtime, sql):
    status(runtime, "offline", T)
    status(runtime, "online", T + M)
    result = audit.verify(runtime.db)
    assert result.ok
    kinds = run_sql(sql, "SELECT kind FROM audit_chain ORDER BY seq").scalars().all()
    assert kinds.count("device_status") == 2
    run_sql(sql, "UPDATE device_status SET received_at = :at WHERE state = 'offline'",
            at=(T - 60 * M).replace(tzinfo=None))
    broken = audit.verify(runtime.db).first_broken
    assert broken["kind"] == "device_status" and "was changed" in broken["reason"]


# -- retained messages on an events topic, over a real Mosquitto -------------------------------------
@pytest.fixture
def mqtt_app(db_url, broker):
    from monitor.app import create_app

    application = create_app(app_config(db_url, mqtt={"enabled": True, "url": broker, "embedded": "never",
                                                      "client_id": f"retained-{uuid.uuid4().hex[:8]}"}))
    yield application
    application.extensions["smartmon"].stop()


def publish(broker: str, topic: str, payload: bytes, retain: bool = False) -> None:
    host, port = broker.removeprefix("mqtt://").split(":")
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"device-{uuid.uuid4().hex[:8]}")
    client.connect(host, int(port))
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)
    finally:
        client.loop_stop()
        client.disconnect()


def test_a_retained_message_on_an_events_topic_is_ignored(mqtt_app, broker):
    runtime = mqtt_app.extensions["smartmon"]
    site = f"ret-{uuid.uuid4().hex[:6]}"
    topic = f"smartmon/v1/{site}/tab-1/events"
    now = datetime.now(timezone.utc)
    old = {"id": "old-1", "case": "t1", "type": "seated", "at": (now - 30 * M).isoformat()}
    publish(broker, topic, json.dumps(old).encode(), retain=True)  # waits on the broker for every subscriber
    try:
        bridge = runtime.start_mqtt()
        wait_for(bridge.subscribed.is_set, message="the monitor's SUBACK")
        live = {"id": "live-1", "case": "t2", "type": "seated", "at": now.isoformat()}
        publish(broker, topic, json.dumps(live).encode())

        def stored():
            with runtime.db.session() as session:
                return session.scalars(select(EventRow.id).where(EventRow.site == site)).all()

        assert wait_for(stored, message="the live event stored") == ["live-1"]
        with runtime.db.session() as session:
            assert session.scalar(select(func.count()).select_from(DeadLetter)) == 0
    finally:
        publish(broker, topic, b"", retain=True)  # clear the retained message for the other tests
