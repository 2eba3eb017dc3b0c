"""Fault-injection helpers for the reliability and fuzz tests: a throwaway PostgreSQL cluster that a
test may stop and start, a device-side MQTT publisher with its own persistent session, the
standards those tests run on, a deterministic event stream, and read-only probes into a service's
database and memory.

Outage lengths come from ``SMARTMON_FAULT_SECONDS`` (default 3 s) so the suite stays quick while a
longer run is one environment variable away (see the README paragraph in test_reliability.py).
"""
from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import psutil
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import select

from tests.harness.database import Db, PgCluster
from tests.harness.mosquitto import Mosquitto
from tests.harness.service import Service

PREFIX = "smartmon/v1"
FAULT_SECONDS = float(os.environ.get("SMARTMON_FAULT_SECONDS", "3"))

# Standards with short, second-scale durations so clocks fall due while a test runs.
RELIABILITY_STANDARDS = """\
events:
  opened: A ticket is opened at the desk
  closed: The ticket is closed
  abandoned: The customer walks away before being served
  noted: A remark is written down (no standard starts or stops on it)
  ordered: An order is placed
  delivered: The order reaches the customer
  promised: A reply date is promised to the customer
  replied: The customer gets the reply
  held: The customer is asked to fetch a document
  resumed: The document is handed over
calendars:
  back-office-hours:
    timezone: Asia/Shanghai
    weekly: {mon-fri: "09:00-17:30", sat: "09:00-12:00"}
standards:
  - id: close-ticket
    name: Close each ticket
    description: Each ticket is closed within 20 seconds of opening.
    customer_need: Customers at the desk want their ticket handled without waiting.
    owner: desk
    start: opened
    stop: closed
    within: 20s
    warn_after: 15s
    cancel_on: [abandoned]
    pause_on: [held]
    resume_on: [resumed]
    escalate:
      - {after: 3s, to: desk-manager}
    goal: {ratio: 0.9, per: day}
  - id: deliver-order
    name: Deliver each order
    description: Each order reaches the customer within 20 seconds.
    customer_need: Customers want what they ordered.
    owner: kitchen
    start: ordered
    stop: delivered
    within: 20s
    repeat: each
    correlate: order_id
    cancel_on: [abandoned]
    goal: {ratio: 0.9, per: day}
  - id: keep-promise
    name: Keep the promised reply date
    description: The customer gets the reply by the promised date, or within 1 hour without one.
    customer_need: A customer given a date plans around it.
    owner: back-office
    start: promised
    stop: replied
    deadline_attr: promised_by
    calendar: back-office-hours
    within: 1h
    escalate:
      - {after: 1m, to: branch-manager, even_if_acknowledged: true}
    goal: {ratio: 0.9, per: week}
"""


def write_standards(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "reliability.yaml").write_text(RELIABILITY_STANDARDS, encoding="utf-8")
    return directory


# -- the device side ----------------------------------------------------------------------------
class Publisher:
    """A device publishing at QoS 1 with its own persistent session.

    paho keeps every unacknowledged QoS 1 message in its own queue (no size limit here) and sends
    it again after reconnecting, so publishing while the broker is away buffers at the device.
    ``acked`` counts PUBACKs from the broker: the broker has taken responsibility for those.
    """

    def __init__(self, mqtt_url: str, site: str = "rel-01", device: str = "dev-1", client_id: str | None = None):
        host, port = mqtt_url.removeprefix("mqtt://").split(":")
        self.site, self.device = site, device
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id or f"pub-{uuid.uuid4().hex[:8]}",
                                  protocol=paho.MQTTv5)
        self.client.max_queued_messages_set(0)
        self.client.max_inflight_messages_set(100)
        self.client.reconnect_delay_set(0.1, 1)
        self._lock = threading.Lock()
        self.published = 0
        self.acked = 0
        self.connected = threading.Event()
        self.client.on_publish = self._on_publish
        self.client.on_connect = lambda c, u, f, rc, p: self.connected.set() if not rc.is_failure else None
        self.client.on_disconnect = lambda c, u, f, rc, p: self.connected.clear()
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = 3600
        self.client.connect_async(host, int(port), keepalive=5, clean_start=False, properties=properties)
        self.client.loop_start()
        if not self.connected.wait(10):
            raise AssertionError(f"publisher could not connect to {mqtt_url}")

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        with self._lock:
            self.acked += 1

    def topic(self, device: str | None = None) -> str:
        return f"{PREFIX}/{self.site}/{device or self.device}/events"

    def publish_raw(self, raw: bytes, topic: str | None = None) -> None:
        info = self.client.publish(topic or self.topic(), raw, qos=1)
        if info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN):
            raise AssertionError(f"publish refused locally: {paho.error_string(info.rc)}")
        with self._lock:
            self.published += 1

    def publish(self, payload: Any, device: str | None = None) -> None:
        import json

        self.publish_raw(payload if isinstance(payload, bytes) else json.dumps(payload).encode(),
                         self.topic(device))

    def all_acked(self) -> bool:
        with self._lock:
            return self.acked >= self.published

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def stream(publisher: Publisher, messages: list[Any], rate: float | None = None, stop: threading.Event | None = None,
           progress: list[int] | None = None) -> None:
    """Publish ``messages`` in order, at ``rate`` messages per second (None: as fast as paho takes them)."""
    began = time.monotonic()
    for index, message in enumerate(messages):
        if stop is not None and stop.is_set():
            return
        if rate:
            ahead = began + index / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)  # pacing the device, not waiting for a condition
        publisher.publish(message)
        if progress is not None:
            progress[0] = index + 1


# -- a deterministic event stream ---------------------------------------------------------------
@dataclass
class Stream:
    """Messages (an event or a batch each) and what any correct service must end up with."""

    messages: list[Any] = field(default_factory=list)
    event_ids: set[str] = field(default_factory=set)
    clocks: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (standard, case, key) → state
    alerts: set[tuple[str, str, str, str, int]] = field(default_factory=set)  # (standard, case, key, kind, step)
    due_tickets: dict[str, tuple[str, datetime]] = field(default_factory=dict)  # case → (start event id, deadline)
    last_due: datetime | None = None

    @property
    def events(self) -> int:
        return len(self.event_ids)

    def expected_alerts(self, received: dict[str, datetime]) -> set[tuple[str, str, str, str, int]]:
        """The designed alerts, given when a service first stored each due ticket's start event.

        By design (core/alerting.plan_alerts) a warning that did not go out before the deadline is
        never sent: a service that first sees a start after its deadline - it was down, or behind
        - opens breach and escalation only. That is the one way timing may change the alerts.
        """
        expected = set(self.alerts)
        for case, (event_id, due) in self.due_tickets.items():
            if received[event_id] >= due:
                expected.discard(("close-ticket", case, "", "warning", 0))
        return expected


def _ev(type_: str, case: str, at: datetime, **attrs: Any) -> dict[str, Any]:
    event = {"id": str(uuid.uuid4()), "case": case, "type": type_, "at": at.isoformat()}
    if attrs:
        event["attrs"] = attrs
    return event


def build_stream(t0: datetime, target_events: int = 3000, due_from: float = 6.0, due_to: float = 22.0,
                 resend_every: int = 40, tag: str = "") -> Stream:
    """About ``target_events`` events in blocks of ten cases, with an outcome fixed by design.

    Stopped and cancelled clocks travel in one batch (start and end together), so no alert can
    depend on how late a message is processed; the "due" tickets are never closed and fall due
    between ``t0 + due_from`` and ``t0 + due_to`` seconds: warning, breach and escalation, three
    alerts each, whatever happens to the service in between. Every ``resend_every``-th message is
    sent twice, as a device retrying would.
    """
    s = Stream()
    past = t0 - timedelta(minutes=5)
    blocks = max(1, target_events // 30)
    for block in range(blocks):
        base = past + timedelta(milliseconds=50 * block)
        def case(n: int, block: int = block) -> str:
            return f"{tag}b{block}-{n}"

        # four met tickets: opened, noted, closed 2 s later (one batch each)
        for n in range(4):
            s.messages.append([_ev("opened", case(n), base), _ev("noted", case(n), base + timedelta(seconds=1)),
                               _ev("closed", case(n), base + timedelta(seconds=2))])
            s.clocks[("close-ticket", case(n), "")] = "met"
        # two cancelled tickets
        for n in (4, 5):
            s.messages.append([_ev("opened", case(n), base), _ev("abandoned", case(n), base + timedelta(seconds=3))])
            s.clocks[("close-ticket", case(n), "")] = "cancelled"
        # two tables with two orders each, both delivered in time
        for n in (6, 7):
            s.messages.append([_ev("ordered", case(n), base, order_id=1), _ev("ordered", case(n), base, order_id=2),
                               _ev("delivered", case(n), base + timedelta(seconds=5), order_id=1),
                               _ev("delivered", case(n), base + timedelta(seconds=8), order_id=2),
                               _ev("noted", case(n), base + timedelta(seconds=9))])
            s.clocks[("deliver-order", case(n), "1")] = "met"
            s.clocks[("deliver-order", case(n), "2")] = "met"
        # one ticket that is never closed and falls due during the test
        due = t0 + timedelta(seconds=due_from + (due_to - due_from) * block / blocks)
        s.messages.append(_ev("opened", case(8), due - timedelta(seconds=20)))
        s.due_tickets[case(8)] = (s.messages[-1]["id"], due)
        s.clocks[("close-ticket", case(8), "")] = "breached"
        for kind, step in (("warning", 0), ("breach", 0), ("escalation", 1)):
            s.alerts.add(("close-ticket", case(8), "", kind, step))
        s.last_due = max(s.last_due or due, due + timedelta(seconds=3))
        # remarks, one event per message
        for n in range(3):
            s.messages.append(_ev("noted", case(9), base + timedelta(seconds=n)))
    # a device retrying: every resend_every-th message goes out again a few messages later
    with_resends: list[Any] = []
    for index, message in enumerate(s.messages):
        with_resends.append(message)
        if index >= 7 and index % resend_every == 0:
            with_resends.append(s.messages[index - 7])
    s.messages = with_resends
    for message in s.messages:
        for event in message if isinstance(message, list) else [message]:
            s.event_ids.add(event["id"])
    return s


# -- probes -------------------------------------------------------------------------------------
class ServiceDb(Db):
    """The harness's look into a service's database, with the questions the fault tests ask."""

    def events(self) -> int:
        try:
            return self.scalar("SELECT count(*) FROM events")
        except Exception:  # noqa: BLE001 - before the first migration, or while the server is down
            return -1

    def event_ids(self) -> list[str]:
        return [r[0] for r in self.rows("SELECT id FROM events")]

    def clocks(self) -> dict[tuple[str, str, str], tuple]:
        """(standard, case, key) → (state, start, deadline, stop, cancelled, duration_s), times aware UTC."""
        from monitor.store.models import ClockRow as C

        query = select(C.standard_id, C.case_id, C.key, C.state, C.start_at, C.deadline, C.stop_at,
                       C.cancelled_at, C.duration_s)
        with self.engine.connect() as connection:
            return {(r[0], r[1], r[2]): tuple(r[3:]) for r in connection.execute(query)}

    def alerts(self) -> dict[tuple[str, str, str, str, int], tuple]:
        """(standard, case, key, kind, step) → (state, due_at, opened_at), times aware UTC."""
        from monitor.store.models import AlertRow as A

        query = select(A.standard_id, A.case_id, A.key, A.kind, A.step, A.state, A.due_at, A.opened_at)
        with self.engine.connect() as connection:
            return {tuple(r[:5]): tuple(r[5:]) for r in connection.execute(query)}

    def received_at(self) -> dict[str, datetime]:
        from monitor.store.models import EventRow as E

        with self.engine.connect() as connection:
            return {row[0]: row[1] for row in connection.execute(select(E.id, E.received_at))}

    def opening_actions_per_alert(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self.rows(
            "SELECT alert_id, count(*) FROM alert_actions WHERE action IN ('opened', 'escalated', 'reopened') "
            "GROUP BY alert_id")}

    def dead_letters(self) -> int:
        return self.scalar("SELECT count(*) FROM dead_letters")



def rss(pid: int) -> int:
    return psutil.Process(pid).memory_info().rss


class RssSampler:
    """Samples a process's resident memory in a thread; ``peak`` is the highest seen."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = rss(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.peak = max(self.peak, rss(self.pid))
            except psutil.Error:
                return

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(timeout=2)
        return self.peak


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


# -- fixtures shared by the process-level tests (import them into the test module) -------------
@pytest.fixture
def broker():
    """A Mosquitto of this test alone, so the test may stop it (persistence on, same port on restart)."""
    # saved on a clean stop only (these tests stop the broker with SIGTERM): saving after every change
    # rewrites the whole store per message, and with 70 MiB queued the broker crawls (40 PUBACKs/s)
    instance = Mosquitto.in_own_directory(autosave_every=None).start()
    yield instance
    instance.destroy()


@pytest.fixture
def standards(tmp_path):
    return write_standards(tmp_path / "standards")


@pytest.fixture
def services():
    started: list[Service] = []
    yield started
    for service in started:
        if service.process and service.process.poll() is None:
            service.kill()


def new_service(services: list, tmp_path, broker, standards, name: str, db_url: str | None = None,
                **extra_env) -> Service:
    service = Service(tmp_path, broker.url, db_url=db_url or f"sqlite:///{tmp_path}/{name}.db",
                      client_id=f"{name}-{uuid.uuid4().hex[:6]}", standards=standards,
                      extra_env={k: str(v) for k, v in extra_env.items()})
    services.append(service)
    return service


@pytest.fixture
def pg():
    """A PostgreSQL cluster of this test alone (an error naming the install step when none can be started)."""
    cluster = PgCluster.started()
    yield cluster
    cluster.destroy()


def health(service: Service) -> tuple[int, dict]:
    import requests

    try:
        response = requests.get(f"{service.url}/healthz", timeout=2)
        return response.status_code, response.json()
    except requests.RequestException as exc:
        return 0, {"error": str(exc)}


def report(title: str, **facts: Any) -> None:
    """One line per scenario with what was counted and timed (shown with ``pytest -s``)."""
    print(f"\n[{title}] " + ", ".join(f"{k}={v}" for k, v in facts.items()))
