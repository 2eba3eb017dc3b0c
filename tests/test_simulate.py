"""sensors.simulate: the simulated floor publishes valid SPEC §1 events on the SPEC §2 topics."""
from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.harness.processes import wait_for
from ruamel.yaml import YAML

from sensors.publisher import SendResult
from sensors.simulate import (
    DRINK_ORDERED,
    DRINK_SERVED,
    GREETED,
    LEFT,
    SEATED,
    SimOptions,
    plan_visit,
    run,
)

REPO = Path(__file__).resolve().parents[1]
MOSQUITTO = "/usr/sbin/mosquitto"
TYPE_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")


# -- fixtures: a throwaway broker and a subscriber --------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.events: list[dict] = []

    def send(self, events: list[dict]) -> SendResult:
        self.events.extend(events)
        return SendResult(sent=len(events))

    def close(self) -> None:
        pass


def catalogue(name: str) -> set[str]:
    return set(YAML(typ="safe").load((REPO / "standards" / name).read_text(encoding="utf-8"))["events"])


def assert_valid_event(event: dict, site: str, not_before: datetime, not_after: datetime) -> None:
    """SPEC §1, field by field."""
    assert set(event) <= {"id", "case", "type", "at", "site", "staff", "attrs"}
    assert isinstance(event["id"], str) and 1 <= len(event["id"]) <= 128
    assert isinstance(event["case"], str) and 1 <= len(event["case"]) <= 200
    assert TYPE_RE.match(event["type"]), event["type"]
    at = datetime.fromisoformat(event["at"])
    assert at.tzinfo is not None and not_before <= at <= not_after
    assert event["site"] == site
    assert isinstance(event.get("staff", ""), str)
    for value in event.get("attrs", {}).values():
        assert value is None or isinstance(value, (str, int, float, bool))


# -- the visit plan --------------------------------------------------------------------------


def test_visits_use_only_declared_restaurant_events():
    declared = catalogue("restaurant.yaml")
    rng = random.Random(11)
    used = {p.type for _ in range(400) for p in plan_visit(rng, 2)}
    assert used <= declared, used - declared
    assert {SEATED, GREETED, DRINK_ORDERED, DRINK_SERVED, LEFT, "bill_presented", "survey_answered"} <= used


def test_a_visit_is_in_time_order_and_drinks_are_correlated():
    rng = random.Random(5)
    for _ in range(200):
        plan = plan_visit(rng, 4)
        offsets = [p.offset for p in plan]
        assert offsets == sorted(offsets) and plan[0].type == SEATED
        ordered = {p.attrs["order_id"]: p.offset for p in plan if p.type == DRINK_ORDERED}
        served = {p.attrs["order_id"]: p.offset for p in plan if p.type == DRINK_SERVED}
        assert ordered.keys() == served.keys()
        assert all(served[k] > ordered[k] for k in ordered)
        if any(p.type == LEFT for p in plan):
            assert plan[-1].type == LEFT  # a walk-out ends the visit


def test_some_promises_are_missed_but_most_are_kept():
    rng = random.Random(2)
    greet_delays = []
    for _ in range(1000):
        plan = plan_visit(rng, 2)
        greeted = [p.offset for p in plan if p.type == GREETED]
        greet_delays += greeted
    late = sum(d > 120 for d in greet_delays) / len(greet_delays)
    assert 0.03 < late < 0.25


def test_the_business_hall_follows_its_queue_rules():
    hall = Recorder()
    stats = run(SimOptions(tables=0, counters=2, speed=1e6, max_events=600, seed=4, progress_every=0),
                senders={"hall": hall})
    assert stats.events["hall"] >= 600 and not stats.events["restaurant"]
    declared = catalogue("business-hall.yaml")
    by_case: dict[str, list[str]] = defaultdict(list)
    for event in hall.events:
        assert event["type"] in declared
        if event.get("attrs", {}).get("simulator") != "stopped":  # closing the run: tested below
            by_case[event["case"]].append(event["type"])
    tickets = {c: t for c, t in by_case.items() if c.startswith("ticket-")}
    assert all(types[0] == "ticket_issued" for types in tickets.values())
    assert not any("ticket_called" in t and "ticket_abandoned" in t for t in tickets.values())
    assert any("ticket_abandoned" in t for t in tickets.values())
    for types in tickets.values():
        if "served_done" in types:
            assert types.index("ticket_called") < types.index("served_done")
        if "documents_returned" in types:
            assert types.index("documents_requested") < types.index("documents_returned")


def test_stopping_closes_every_case_the_run_opened_so_a_restart_leaves_no_ghost_breaches():
    restaurant, hall = Recorder(), Recorder()
    run(SimOptions(tables=6, counters=2, speed=1e6, max_events=900, seed=7, progress_every=0),
        senders={"restaurant": restaurant, "hall": hall})
    by_case: dict[str, list[dict]] = defaultdict(list)
    for event in restaurant.events + hall.events:
        by_case[event["case"]].append(event)
    closings = [e for e in restaurant.events + hall.events if e.get("attrs", {}).get("simulator") == "stopped"]
    assert closings, "a run stopped mid-service closes something"
    ends = {"table-": {"payment_collected", "left"}, "ticket-": {"served_done", "ticket_abandoned"},
            "request-": {"request_completed"}}
    for case, events in by_case.items():
        types = [e["type"] for e in events]
        wanted = next(v for prefix, v in ends.items() if case.startswith(prefix))
        assert wanted & set(types), (case, types)  # every case ends: no clock is left running
        assert sum(e.get("attrs", {}).get("simulator") == "stopped" for e in events) <= 1
    # A table with its payment on it has it picked up; nobody walks out on a paid table.
    for event in closings:
        types = [e["type"] for e in by_case[event["case"]]]
        if event["type"] == "left":
            assert "payment_placed" not in types
    kept_open = Recorder()
    run(SimOptions(tables=6, counters=0, speed=1e6, max_events=300, seed=7, progress_every=0, close_on_stop=False),
        senders={"restaurant": kept_open})
    assert not [e for e in kept_open.events if e.get("attrs", {}).get("simulator") == "stopped"]


# -- over a real broker ----------------------------------------------------------------------


def test_the_floor_publishes_valid_events_on_the_right_topics(broker, subscriber):
    lines: list[str] = []
    started = datetime.now(timezone.utc)
    options = SimOptions(site="bj-01", tables=4, counters=2, speed=3000, duration=60, max_events=150,
                         seed=3, mqtt_url=broker, progress_every=50)
    stats = run(options, progress=lines.append)
    total = sum(stats.events.values())
    assert total >= 150 and stats.events["restaurant"] and stats.events["hall"]
    wait_for(lambda: subscriber.count() >= total, message=f"{total} events")
    finished = datetime.now(timezone.utc)

    by_topic = subscriber.events_by_topic()
    assert set(by_topic) == {"smartmon/v1/bj-01/floor-tablet/events", "smartmon/v1/bj-01-hall/ticket-machine/events"}
    assert sum(map(len, by_topic.values())) == total
    for topic, events in by_topic.items():
        site = topic.split("/")[2]
        for event in events:
            assert_valid_event(event, site, started, finished)
    restaurant = by_topic["smartmon/v1/bj-01/floor-tablet/events"]
    assert len({e["id"] for e in restaurant}) == len(restaurant)
    assert all(re.match(r"^table-\d+/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", e["case"]) for e in restaurant)
    seated = [e for e in restaurant if e["type"] == SEATED]
    assert seated and all("staff" not in e and e["attrs"]["party_size"] >= 1 for e in seated)
    assert lines and lines[0].startswith("simulate: ")

    for device in ("bj-01/floor-tablet", "bj-01-hall/ticket-machine"):
        topic = f"smartmon/v1/{device}/status"
        wait_for(lambda: subscriber.statuses(topic)[-1:] == ["offline"], message=f"{device} offline")
        assert subscriber.statuses(topic) == ["online", "offline"]


def test_the_cli_runs_for_a_bounded_time(broker, subscriber):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "sensors.simulate", "--mqtt-url", broker, "--site", "cli", "--tables", "3",
         "--counters", "1", "--speed", "5000", "--duration", "20", "--max-events", "40", "--seed", "1",
         "--progress-every", "20"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "simulate: " in done.stderr and "events (" in done.stderr
    wait_for(lambda: subscriber.count() >= 40, message="40 CLI events")


def test_bad_options_are_refused():
    with pytest.raises(ValueError):
        run(SimOptions(site="no/slash", speed=10), senders={})
    with pytest.raises(ValueError):
        run(SimOptions(speed=0), senders={})
    with pytest.raises(ValueError):
        run(SimOptions(tables=0, counters=0), senders={})
