"""End to end over a real Mosquitto and the real service process, in real time."""
from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime, timedelta, timezone

import paho.mqtt.client as paho
import pytest
import requests

from tests.harness.processes import wait_for
from tests.harness.service import Service, SseReader

pytestmark = pytest.mark.slow
PREFIX = "smartmon/v1"


class Floor:
    """A device and a floor screen: publishes events, collects what arrives on the alerts topic."""

    def __init__(self, mqtt_url: str, site: str = "bj-01") -> None:
        host, port = mqtt_url.removeprefix("mqtt://").split(":")
        self.site = site
        self.alerts: list[dict] = []
        self.subscribed = threading.Event()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"floor-{uuid.uuid4().hex[:8]}",
                                  protocol=paho.MQTTv5)
        self.client.on_message = lambda c, u, m: self.alerts.append(json.loads(m.payload))
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.connect(host, int(port))
        self.client.loop_start()
        self.client.subscribe(f"{PREFIX}/{site}/alerts", qos=1)
        assert self.subscribed.wait(5)

    def publish(self, payload, device: str = "tab-1") -> None:
        raw = payload if isinstance(payload, bytes) else json.dumps(payload)
        self.client.publish(f"{PREFIX}/{self.site}/{device}/events", raw, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def event(type_: str, case: str, at: datetime, **extra) -> dict:
    return {"id": str(uuid.uuid4()), "case": case, "type": type_, "at": at.isoformat(), **extra}


@pytest.fixture
def service(tmp_path, mosquitto):
    svc = Service(tmp_path, mosquitto.url, client_id=f"e2e-{uuid.uuid4().hex[:6]}").start()
    yield svc
    svc.stop()


@pytest.fixture
def floor(mosquitto):
    screen = Floor(mosquitto.url)
    yield screen
    screen.close()


def _alert(frames, kind, state):
    return next((f.data for f in frames if f.data["kind"] == kind and f.data["state"] == state), None)


def test_a_breach_reaches_sse_and_mqtt_within_a_second_then_a_late_stop_retracts_it(service, floor):
    sse = SseReader(service)
    seated_at = datetime.now(timezone.utc) - timedelta(seconds=118)  # deadline in 2 s
    floor.publish(event("seated", "table-7", seated_at))
    breach = wait_for(lambda: _alert(sse.frames, "breach", "open"), timeout=10, message="breach on SSE")
    due = datetime.fromisoformat(breach["due_at"])
    opened = datetime.fromisoformat(breach["opened_at"])
    assert timedelta(0) <= opened - due < timedelta(seconds=1)
    wait_for(lambda: any(a["kind"] == "breach" and a["state"] == "open" for a in floor.alerts), timeout=5,
             message="breach on the MQTT alerts topic")

    floor.publish(event("greeted", "table-7", seated_at + timedelta(seconds=100)))  # late, but in time
    wait_for(lambda: _alert(sse.frames, "breach", "retracted"), timeout=5, message="retraction on SSE")
    wait_for(lambda: any(a["kind"] == "breach" and a["state"] == "retracted" for a in floor.alerts), timeout=5)
    clocks = service.api("GET", "/cases/table-7").json()["clocks"]
    assert [(c["standard"], c["state"], c["duration_s"]) for c in clocks] == [("greet", "met", 100.0)]
    sse.close()


def test_ack_goes_out_on_both_channels_and_sse_resumes_from_last_event_id(service, floor):
    sse = SseReader(service)
    floor.publish(event("seated", "table-9", datetime.now(timezone.utc) - timedelta(minutes=3)))
    breach = wait_for(lambda: _alert(sse.frames, "breach", "open"))
    first_id = sse.frames[0].id
    response = service.api("POST", f"/alerts/{breach['id']}/ack", json={"note": "on my way"})
    assert response.status_code == 200
    wait_for(lambda: _alert(sse.frames, "breach", "acknowledged"))
    wait_for(lambda: any(a["state"] == "acknowledged" and a["note"] == "on my way" for a in floor.alerts))
    sse.close()

    resumed = SseReader(service, last_event_id=first_id)
    wait_for(lambda: len(resumed.frames) >= len(sse.frames) - 1)
    assert [f.id for f in resumed.frames] == [f.id for f in sse.frames[1:]][:len(resumed.frames)]
    assert all(int(f.id) > int(first_id) for f in resumed.frames)
    resumed.close()


def test_bad_payloads_over_mqtt_are_dead_lettered_and_good_events_kept(service, floor):
    now = datetime.now(timezone.utc)
    floor.publish(b"{this is not json")
    floor.publish([event("seated", "table-3", now), {"id": "broken", "case": "table-3"},
                   event("seated", "table-4", now, site="another-site")])
    letters = wait_for(lambda: (lambda items: items if len(items) >= 3 else None)(
        service.api("GET", "/dead-letters").json()["items"]), message="three dead letters")
    reasons = sorted(letter["reason"] for letter in letters)
    assert any(r.startswith("not valid JSON") for r in reasons)
    assert any("event 1: " in r and "Missing data" in r for r in reasons)
    assert any("does not match the topic's site" in r for r in reasons)
    case = service.api("GET", "/cases/table-3").json()
    assert [e["type"] for e in case["events"]] == ["seated"]
    assert service.api("GET", "/cases/table-4").status_code == 404


def test_the_api_refuses_requests_without_a_token(service):
    response = requests.get(f"{service.url}/api/v1/alerts", timeout=5)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert requests.get(f"{service.url}/healthz", timeout=5).json()["mqtt"] == "ok"
