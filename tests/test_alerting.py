"""Alert points and the alert life cycle (SPEC §5) as a pure function of (standard, clock, alerts, now)."""
from __future__ import annotations

import dataclasses
from datetime import datetime, time, timedelta, timezone
from typing import Mapping
from zoneinfo import ZoneInfo

import pytest

from monitor.core.alerting import (
    ACKNOWLEDGED,
    BREACH,
    ESCALATION,
    LIVE_STATES,
    OPEN,
    RESOLVED,
    RETRACTED,
    WARNING,
    AlertKey,
    AlertPlan,
    AlertPoint,
    alert_points,
    plan_alerts,
)
from monitor.core.calendars import Calendar
from monitor.core.clocks import Clock, ClockState, evaluate
from monitor.core.events import Event
from monitor.core.standards import EscalationStep, Standard, StartCandidate
from tests.builders import greet_standard

T0 = datetime(2026, 11, 24, 18, 0, tzinfo=timezone(timedelta(hours=8)))
CASE = "table-12/2026-11-24T18:00"

W = (WARNING, 0)
B = (BREACH, 0)
E1 = (ESCALATION, 1)
E2 = (ESCALATION, 2)


def t(minutes: float = 0, seconds: float = 0) -> datetime:
    return T0 + timedelta(minutes=minutes, seconds=seconds)


def ev(type_: str, when: datetime, **attrs) -> Event:
    return Event(id=f"{type_}@{when.isoformat()}", case=CASE, type=type_, at=when, site="bj-01", attrs=attrs)


# Greet within 2m, warn at 90s; escalate 1m past the deadline to the floor manager, and 3m past it
# to the restaurant manager even if the breach has been acknowledged.
GREET = greet_standard(
    warn_after=timedelta(seconds=90),
    cancel_on=("left",),
    pause_on=("paused",),
    resume_on=("resumed",),
    owner="floor-server",
    escalate=(
        EscalationStep(timedelta(minutes=1), "floor-manager"),
        EscalationStep(timedelta(minutes=3), "restaurant-manager", even_if_acknowledged=True),
    ),
)
# due times: warning t(1.5), breach t(2), escalation 1 t(3), escalation 2 t(5)


def clock_of(events: list[Event], now: datetime, std: Standard = GREET) -> Clock | None:
    clocks = evaluate(std, events, now)
    assert len(clocks) <= 1
    return clocks[0] if clocks else None


def plan(events: list[Event], now: datetime, existing: Mapping[AlertKey, str] | None = None,
         std: Standard = GREET) -> AlertPlan:
    return plan_alerts(std, clock_of(events, now, std), dict(existing or {}), now)


def opened(p: AlertPlan) -> list[AlertKey]:
    return [point.key for point in p.open]


def apply(existing: Mapping[AlertKey, str], p: AlertPlan) -> dict[AlertKey, str]:
    """What the alert service stores after carrying out a plan."""
    after = dict(existing)
    after.update({key: RETRACTED for key in p.retract})
    after.update({key: RESOLVED for key, _ in p.resolve})
    after.update({point.key: OPEN for point in p.open})
    return after


SEATED = [ev("seated", t(0))]


# --- alert points -----------------------------------------------------------------------------


def test_it_places_warning_breach_and_escalation_points():
    c = clock_of(SEATED, t(0))
    assert alert_points(GREET, c) == [
        AlertPoint(WARNING, 0, t(1.5), "floor-server"),
        AlertPoint(BREACH, 0, t(2), "floor-server"),
        AlertPoint(ESCALATION, 1, t(3), "floor-manager", False),
        AlertPoint(ESCALATION, 2, t(5), "restaurant-manager", True),
    ]


def test_it_places_no_warning_when_the_deadline_comes_first():
    std = dataclasses.replace(GREET, deadline_attr="promised_by")
    c = clock_of([ev("seated", t(0), promised_by=t(1).isoformat())], t(0), std)
    kinds = [p.key for p in alert_points(std, c)]
    assert kinds == [B, E1, E2]


def test_it_places_only_a_breach_without_warn_after_or_escalations():
    std = dataclasses.replace(GREET, warn_after=None, escalate=())
    assert [p.key for p in alert_points(std, clock_of(SEATED, t(0), std))] == [B]


def test_it_counts_escalation_steps_in_business_time():
    shanghai = ZoneInfo("Asia/Shanghai")
    cal = Calendar("hours", shanghai, {d: ((time(9), time(17, 30)),) for d in range(5)})
    std = dataclasses.replace(GREET, calendar=cal, within=timedelta(minutes=28), warn_after=None)
    c = clock_of([ev("seated", datetime(2026, 11, 24, 17, 0, tzinfo=shanghai))], T0, std)
    points = {p.key: p.due_at for p in alert_points(std, c)}
    assert points[B] == datetime(2026, 11, 24, 17, 28, tzinfo=shanghai)
    assert points[E1] == datetime(2026, 11, 24, 17, 29, tzinfo=shanghai)
    # 3 business minutes past 17:28: two before closing, one after the next opening
    assert points[E2] == datetime(2026, 11, 25, 9, 1, tzinfo=shanghai)


# --- opening on time --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "existing", "to_open", "next_due"),
    [
        pytest.param(t(1), {}, [], t(1.5), id="before-the-warning"),
        pytest.param(t(1.5), {}, [W], t(2), id="at-the-warning"),
        pytest.param(t(2), {W: OPEN}, [B], t(3), id="at-the-deadline"),
        pytest.param(t(3), {W: OPEN, B: OPEN}, [E1], t(5), id="first-escalation"),
        pytest.param(t(5), {W: OPEN, B: OPEN, E1: OPEN}, [E2], None, id="last-escalation"),
        pytest.param(t(9), {W: OPEN, B: OPEN, E1: OPEN, E2: OPEN}, [], None, id="all-open"),
    ],
)
def test_it_opens_each_point_when_it_falls_due(now, existing, to_open, next_due):
    p = plan(SEATED, now, existing)
    assert opened(p) == to_open
    assert p.next_due_at == next_due
    assert p.retract == () and p.resolve == ()


def test_it_opens_an_alert_addressed_to_the_point_s_role():
    [point] = plan(SEATED, t(3), {W: OPEN, B: OPEN}).open
    assert (point.due_at, point.to) == (t(3), "floor-manager")


@pytest.mark.parametrize("state", [OPEN, ACKNOWLEDGED, RESOLVED])
def test_it_opens_an_alert_at_most_once_per_clock_and_kind(state):
    existing = {W: state, B: state, E1: state, E2: state}
    assert plan(SEATED, t(10), existing).open == ()


def test_it_opens_everything_overdue_at_once_in_due_order_after_a_missed_beat():
    p = plan(SEATED, t(6), {W: OPEN})
    assert opened(p) == [B, E1, E2]


# --- acknowledgement and escalation -----------------------------------------------------------


def test_it_skips_escalation_steps_once_the_breach_is_acknowledged():
    p = plan(SEATED, t(3), {W: OPEN, B: ACKNOWLEDGED})
    assert opened(p) == []
    assert p.next_due_at == t(5)  # only the step that fires even if acknowledged is still ahead


def test_it_still_opens_a_step_marked_even_if_acknowledged():
    p = plan(SEATED, t(5), {W: OPEN, B: ACKNOWLEDGED})
    assert opened(p) == [E2]


def test_it_escalates_while_the_breach_is_unacknowledged():
    assert opened(plan(SEATED, t(5), {W: OPEN, B: OPEN})) == [E1, E2]


def test_it_is_not_stopped_escalating_by_an_acknowledged_warning():
    assert opened(plan(SEATED, t(3), {W: ACKNOWLEDGED, B: OPEN})) == [E1]


# --- late data: retract -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stop", "retracted", "resolved"),
    [
        pytest.param(t(1), [W, B], [], id="stop-before-the-warning-time"),
        pytest.param(t(1.5), [W, B], [], id="stop-exactly-at-the-warning-time"),
        pytest.param(t(1.75), [B], [(W, "stopped")], id="stop-between-warning-and-deadline"),
        pytest.param(t(2), [B], [(W, "stopped")], id="stop-exactly-at-the-deadline"),
    ],
)
def test_it_retracts_alerts_that_a_late_stop_shows_were_never_due(stop, retracted, resolved):
    existing = {W: OPEN, B: ACKNOWLEDGED}
    p = plan([*SEATED, ev("greeted", stop)], t(4), existing)
    assert sorted(p.retract) == sorted(retracted)
    assert list(p.resolve) == resolved
    assert p.open == ()


def test_it_retracts_from_any_state_even_resolved():
    p = plan([*SEATED, ev("greeted", t(1))], t(10), {W: RESOLVED, B: RESOLVED, E1: RESOLVED})
    assert sorted(p.retract) == [B, E1, W]


def test_it_leaves_an_already_retracted_alert_alone():
    p = plan([*SEATED, ev("greeted", t(1))], t(10), {W: RETRACTED, B: RETRACTED})
    assert p.retract == () and p.resolve == () and p.open == ()


def test_it_retracts_a_breach_when_a_late_cancel_predates_the_deadline():
    p = plan([*SEATED, ev("left", t(1.75))], t(4), {W: OPEN, B: OPEN})
    assert p.retract == (B,)
    assert p.resolve == ((W, "cancelled"),)


def test_it_retracts_everything_when_the_clock_disappears():
    existing = {W: OPEN, B: ACKNOWLEDGED, E1: RESOLVED, E2: RETRACTED}
    p = plan_alerts(GREET, None, existing, t(10))
    assert sorted(p.retract) == sorted([W, B, E1])
    assert p.open == () and p.resolve == () and p.next_due_at is None


def test_it_retracts_when_late_data_removes_the_clock():
    offer_food = dataclasses.replace(
        GREET,
        id="offer-food-order",
        start=(StartCandidate("drink_served"), StartCandidate("seated", unless="drink_ordered")),
        stop=("food_order_offered",),
    )
    events = [*SEATED, ev("drink_ordered", t(0.5))]  # no drinks served yet → no clock
    p = plan(events, t(10), {W: OPEN, B: OPEN}, std=offer_food)
    assert sorted(p.retract) == [B, W]


# --- resolve ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ending", "resolution"),
    [(ev("greeted", t(4)), "stopped"), (ev("left", t(4)), "cancelled")],
)
def test_it_resolves_live_alerts_when_the_clock_ends_after_the_deadline(ending, resolution):
    existing = {W: OPEN, B: ACKNOWLEDGED, E1: OPEN}
    p = plan([*SEATED, ending], t(6), existing)
    assert sorted(p.resolve) == sorted((key, resolution) for key in (W, B, E1))
    assert p.retract == ()
    assert p.open == ()  # E2 fell due after the clock ended
    assert p.next_due_at is None


def test_it_does_not_resolve_twice():
    p = plan([*SEATED, ev("greeted", t(4))], t(6), {W: RESOLVED, B: RESOLVED})
    assert p.resolve == () and p.retract == ()


def test_it_keeps_an_escalation_that_was_due_before_the_stop():
    p = plan([*SEATED, ev("greeted", t(3.5))], t(6), {W: OPEN, B: OPEN, E1: OPEN})
    assert (E1, "stopped") in p.resolve
    assert E1 not in p.retract


# --- learned late -----------------------------------------------------------------------------


def test_it_opens_the_breach_at_once_for_a_start_learned_after_the_deadline():
    p = plan(SEATED, t(2.5))
    assert opened(p) == [B]  # no warning: the breach says it all
    assert p.next_due_at == t(3)


def test_it_does_not_open_the_suppressed_warning_on_a_later_pass():
    first = plan(SEATED, t(2.5))
    later = plan(SEATED, t(2.6), apply({}, first))
    assert later.open == ()


def test_it_opens_overdue_escalations_with_a_very_late_start():
    assert opened(plan(SEATED, t(4))) == [B, E1]


# --- paused clocks ----------------------------------------------------------------------------


@pytest.mark.parametrize("paused_at", [t(1), t(1.75), t(2.5)])
def test_it_opens_nothing_while_the_clock_is_paused(paused_at):
    events = [*SEATED, ev("paused", paused_at)]
    c = clock_of(events, t(30))
    assert c.state is ClockState.PAUSED
    p = plan_alerts(GREET, c, {}, t(30))
    assert p.open == ()
    assert p.next_due_at is None


def test_it_leaves_alerts_opened_before_a_pause_as_they_are():
    p = plan([*SEATED, ev("paused", t(1.75))], t(30), {W: OPEN})
    assert p.open == () and p.retract == () and p.resolve == ()


def test_it_reckons_from_the_moved_deadline_after_a_resume():
    events = [*SEATED, ev("paused", t(1)), ev("resumed", t(4))]
    p = plan(events, t(4))
    assert opened(p) == []
    assert p.next_due_at == t(4.5)  # warning at 90s of counted time


def test_it_has_a_live_breach_once_a_moved_deadline_passes():
    std = dataclasses.replace(GREET, warn_after=None, escalate=())
    stored = apply({}, plan(SEATED, t(2.5), std=std))
    assert stored == {B: OPEN}
    # A tablet that was offline sends a pause/resume dated inside the first two minutes:
    # the deadline is now t(2) + 2m = t(4).
    events = [*SEATED, ev("paused", t(1)), ev("resumed", t(3))]
    stored = apply(stored, plan(events, t(3.5), stored, std=std))
    c = clock_of(events, t(5), std)
    assert (c.deadline, c.state) == (t(4), ClockState.BREACHED)
    stored = apply(stored, plan(events, t(5), stored, std=std))
    assert stored[B] in LIVE_STATES
