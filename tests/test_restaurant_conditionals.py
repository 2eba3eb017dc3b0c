"""The shipped restaurant's two conditional standards on sample table visits (SPEC §3.2 first_of):
offer the food order 4 min after drinks arrive, or after seating when no drinks are ordered; present
the bill 4 min after dessert, or after the plates are cleared when no dessert is ordered."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from monitor.core.clocks import ClockState, evaluate
from monitor.core.events import Event
from monitor.loader import load_file_text

RESTAURANT = Path(__file__).parent.parent / "standards" / "restaurant.yaml"
STANDARDS = load_file_text("restaurant.yaml", RESTAURANT.read_text(encoding="utf-8"))
OFFER_FOOD = next(s for s in STANDARDS.standards if s.id == "offer-food-order")
BILL = next(s for s in STANDARDS.standards if s.id == "present-the-bill")
T0 = datetime(2026, 11, 24, 18, 0, tzinfo=timezone(timedelta(hours=8)))


def visit(*steps: tuple[float, str]) -> list[Event]:
    """Events of one table visit; each step is (minutes after 18:00, event type)."""
    return [
        Event(id=f"e{index}", case="table-12/2026-11-24T18:00", type=type_, at=T0 + timedelta(minutes=minutes),
              site="bj-01")
        for index, (minutes, type_) in enumerate(steps)
    ]


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def only_clock(standard, events, now_minutes: float):
    clocks = evaluate(standard, events, at(now_minutes))
    assert len(clocks) == 1, clocks
    return clocks[0]


# --- offer to take the food order -------------------------------------------------------------


def test_with_drinks_the_offer_clock_starts_when_the_drinks_arrive():
    events = visit((0, "seated"), (1, "greeted"), (2, "drink_ordered"), (6, "drink_served"), (9, "food_order_offered"))
    clock = only_clock(OFFER_FOOD, events, 30)
    # From seating it would be 9 minutes, a miss; from the drinks it is 3 minutes, met.
    assert (clock.start, clock.deadline, clock.stop) == (at(6), at(10), at(9))
    assert clock.state is ClockState.MET and clock.duration_s == 180


def test_with_drinks_a_late_offer_is_missed():
    events = visit((0, "seated"), (2, "drink_ordered"), (6, "drink_served"), (11, "food_order_offered"))
    assert only_clock(OFFER_FOOD, events, 30).state is ClockState.MISSED


def test_with_several_drinks_the_first_served_starts_the_clock():
    events = visit((0, "seated"), (2, "drink_ordered"), (3, "drink_ordered"), (5, "drink_served"),
                   (7, "drink_served"), (10, "food_order_offered"))
    clock = only_clock(OFFER_FOOD, events, 30)
    assert clock.start == at(5) and clock.state is ClockState.MISSED


def test_while_ordered_drinks_are_on_their_way_no_offer_clock_runs():
    events = visit((0, "seated"), (1, "greeted"), (2, "drink_ordered"))
    assert evaluate(OFFER_FOOD, events, at(8)) == []


def test_without_drinks_the_offer_clock_starts_at_seating():
    events = visit((0, "seated"), (1, "greeted"), (3.5, "food_order_offered"))
    clock = only_clock(OFFER_FOOD, events, 30)
    assert (clock.start, clock.deadline, clock.state) == (at(0), at(4), ClockState.MET)


def test_without_drinks_and_without_an_offer_the_clock_breaches():
    events = visit((0, "seated"), (1, "greeted"))
    assert only_clock(OFFER_FOOD, events, 3).state is ClockState.RUNNING
    assert only_clock(OFFER_FOOD, events, 5).state is ClockState.BREACHED


def test_guests_who_order_food_unasked_stop_the_offer_clock():
    events = visit((0, "seated"), (2, "main_ordered"))
    clock = only_clock(OFFER_FOOD, events, 30)
    assert clock.stop == at(2) and clock.state is ClockState.MET


def test_a_table_that_leaves_cancels_the_offer_clock():
    events = visit((0, "seated"), (3, "left"))
    assert only_clock(OFFER_FOOD, events, 30).state is ClockState.CANCELLED


# --- present the bill -------------------------------------------------------------------------


def test_with_dessert_the_bill_clock_starts_when_dessert_is_served():
    events = visit((60, "plates_cleared"), (61, "dessert_ordered"), (66, "dessert_served"), (69, "bill_presented"))
    clock = only_clock(BILL, events, 120)
    # From the plates it would be 9 minutes, a miss; from dessert it is 3 minutes, met.
    assert (clock.start, clock.deadline, clock.stop) == (at(66), at(70), at(69))
    assert clock.state is ClockState.MET


def test_with_dessert_a_late_bill_is_missed():
    events = visit((60, "plates_cleared"), (61, "dessert_ordered"), (66, "dessert_served"), (71, "bill_presented"))
    assert only_clock(BILL, events, 120).state is ClockState.MISSED


def test_while_ordered_dessert_is_on_its_way_no_bill_clock_runs():
    events = visit((60, "plates_cleared"), (61, "dessert_ordered"))
    assert evaluate(BILL, events, at(66)) == []


def test_without_dessert_the_bill_clock_starts_when_the_plates_are_cleared():
    events = visit((60, "plates_cleared"), (63, "bill_presented"))
    clock = only_clock(BILL, events, 120)
    assert (clock.start, clock.deadline, clock.state) == (at(60), at(64), ClockState.MET)


@pytest.mark.parametrize(("now", "state"), [(63, ClockState.RUNNING), (65, ClockState.BREACHED)])
def test_without_dessert_and_without_a_bill_the_clock_runs_then_breaches(now, state):
    events = visit((60, "plates_cleared"))
    assert only_clock(BILL, events, now).state is state


def test_without_dessert_a_late_bill_is_missed():
    events = visit((60, "plates_cleared"), (65, "bill_presented"))
    assert only_clock(BILL, events, 120).state is ClockState.MISSED


def test_a_whole_visit_with_drinks_and_dessert_meets_both():
    events = visit((0, "seated"), (1, "greeted"), (2, "drink_ordered"), (5, "drink_served"),
                   (8, "food_order_offered"), (9, "main_ordered"), (18, "main_served"), (50, "plates_cleared"),
                   (51, "dessert_ordered"), (55, "dessert_served"), (58, "bill_presented"))
    assert only_clock(OFFER_FOOD, events, 120).state is ClockState.MET
    assert only_clock(BILL, events, 120).state is ClockState.MET
