"""Clock semantics (SPEC §3.2) as a pure function of (standard, a case's events, now)."""
from __future__ import annotations

import dataclasses
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.core.calendars import Calendar
from monitor.core.clocks import Clock, ClockState, evaluate
from monitor.core.events import Event
from monitor.core.standards import AppliesTo, Standard, StartCandidate
from tests.builders import greet_standard

BEIJING = timezone(timedelta(hours=8))  # as an RFC 3339 "+08:00" parses
SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 24, 18, 0, tzinfo=BEIJING)  # a Tuesday evening
CASE = "table-12/2026-11-24T18:00"
SITE = "bj-01"


def t(minutes: float = 0, seconds: float = 0) -> datetime:
    return T0 + timedelta(minutes=minutes, seconds=seconds)


def ev(type_: str, when: datetime, *, id: str | None = None, site: str = SITE, staff: str | None = None,
       **attrs) -> Event:
    """An event whose id is derived from its content, so a test never repeats an id by accident."""
    ident = id or f"{type_}@{when.isoformat()}#{sorted(attrs.items())}"
    return Event(id=ident, case=CASE, type=type_, at=when, site=site, staff=staff, attrs=attrs)


standard = greet_standard


def only(clocks: list[Clock]) -> Clock:
    assert len(clocks) == 1, clocks
    return clocks[0]


def clock(std: Standard, events: list[Event], now: datetime, **kwargs) -> Clock:
    return only(evaluate(std, events, now, **kwargs))


# --- start and stop ---------------------------------------------------------------------------


def test_it_starts_a_plain_clock_at_the_earliest_start_event():
    c = clock(standard(), [ev("seated", t(3)), ev("seated", t(1)), ev("seated", t(2))], now=t(2))
    assert c.start == t(1)
    assert c.deadline == t(3)
    assert c.state is ClockState.RUNNING


def test_it_describes_the_clock_from_the_start_event():
    std = standard(version=3)
    c = clock(std, [ev("seated", t(0), id="s-1", staff="li")], now=t(1))
    assert (c.standard, c.version, c.case, c.key, c.site, c.staff, c.start_event_id) == (
        "greet-seated-guests", 3, CASE, "", SITE, "li", "s-1",
    )


def test_it_runs_no_clock_without_a_start_event():
    assert evaluate(standard(), [ev("greeted", t(1))], now=t(5)) == []
    assert evaluate(standard(), [], now=t(5)) == []


def test_it_stops_at_the_earliest_stop_at_or_after_the_start():
    events = [ev("seated", t(0)), ev("greeted", t(1.5)), ev("greeted", t(1))]
    c = clock(standard(), events, now=t(5))
    assert c.stop == t(1)
    assert c.state is ClockState.MET
    assert c.duration_s == 60


def test_it_is_stopped_by_any_of_several_stop_types():
    std = standard(stop=("food_order_offered", "starter_ordered", "main_ordered"), within=timedelta(minutes=4))
    c = clock(std, [ev("seated", t(0)), ev("main_ordered", t(3)), ev("food_order_offered", t(3.5))], now=t(10))
    assert c.stop == t(3)
    assert c.state is ClockState.MET


def test_it_ignores_other_event_types():
    c = clock(standard(), [ev("seated", t(0)), ev("drink_ordered", t(1)), ev("survey_answered", t(1.5))], now=t(1.9))
    assert c.stop is None
    assert c.state is ClockState.RUNNING


# --- first_of ---------------------------------------------------------------------------------

OFFER_FOOD = standard(
    id="offer-food-order",
    start=(StartCandidate("drink_served"), StartCandidate("seated", unless="drink_ordered")),
    start_is_first_of=True,
    stop=("food_order_offered", "starter_ordered", "main_ordered"),
    within=timedelta(minutes=4),
)


@pytest.mark.parametrize(
    ("events", "expected_start"),
    [
        pytest.param(
            [ev("seated", t(0)), ev("drink_ordered", t(1)), ev("drink_served", t(3))], t(3), id="with-drinks"
        ),
        pytest.param([ev("seated", t(0))], t(0), id="without-drinks"),
        pytest.param([ev("seated", t(0)), ev("drink_ordered", t(1))], None, id="drinks-ordered-not-served"),
        # the first candidate that applies wins, even though seating came first
        pytest.param([ev("seated", t(0)), ev("drink_served", t(2))], t(2), id="served-without-an-order-event"),
    ],
)
def test_it_starts_with_the_first_candidate_that_applies(events, expected_start):
    clocks = evaluate(OFFER_FOOD, events, now=t(5))
    if expected_start is None:
        assert clocks == []
    else:
        c = only(clocks)
        assert c.start == expected_start
        assert c.deadline == expected_start + timedelta(minutes=4)


def test_it_uses_the_earliest_event_of_the_winning_candidate():
    events = [ev("seated", t(0)), ev("drink_ordered", t(1)), ev("drink_served", t(4)), ev("drink_served", t(3))]
    assert clock(OFFER_FOOD, events, now=t(5)).start == t(3)


def test_it_drops_the_seating_clock_once_drinks_are_ordered():
    seated = [ev("seated", t(0))]
    assert clock(OFFER_FOOD, seated, now=t(1)).start == t(0)
    assert evaluate(OFFER_FOOD, [*seated, ev("drink_ordered", t(2))], now=t(2)) == []


# --- clock skew -------------------------------------------------------------------------------


@pytest.mark.parametrize("before", [timedelta(seconds=1), timedelta(seconds=20), timedelta(seconds=30)])
def test_it_lets_a_stop_slightly_before_the_start_stop_the_clock(before):
    c = clock(standard(), [ev("seated", t(0)), ev("greeted", t(0) - before)], now=t(5))
    assert c.stop == t(0) - before
    assert c.duration_s == 0
    assert c.state is ClockState.MET


@pytest.mark.parametrize(("now", "state"), [(t(1), ClockState.RUNNING), (t(3), ClockState.BREACHED)])
def test_it_ignores_a_stop_beyond_the_skew_tolerance(now, state):
    c = clock(standard(), [ev("seated", t(0)), ev("greeted", t(0, seconds=-31))], now=now)
    assert c.stop is None
    assert c.state is state


def test_it_takes_the_skew_tolerance_it_is_given():
    events = [ev("seated", t(0)), ev("greeted", t(0, seconds=-20))]
    assert clock(standard(), events, now=t(1), skew=timedelta(0)).state is ClockState.RUNNING
    assert clock(standard(), events, now=t(1), skew=timedelta(minutes=1)).state is ClockState.MET


def test_it_prefers_the_early_stop_within_tolerance_to_a_later_one():
    events = [ev("seated", t(0)), ev("greeted", t(0, seconds=-10)), ev("greeted", t(1))]
    c = clock(standard(), events, now=t(5))
    assert c.stop == t(0, seconds=-10)
    assert c.duration_s == 0


# --- cancel -----------------------------------------------------------------------------------

GREET = standard(cancel_on=("left",))


@pytest.mark.parametrize(
    ("events", "state", "stop", "cancelled_at"),
    [
        pytest.param([ev("left", t(1)), ev("greeted", t(1.5))], ClockState.CANCELLED, None, t(1), id="cancel-then-stop"),
        pytest.param([ev("left", t(3))], ClockState.CANCELLED, None, t(3), id="cancel-after-deadline"),
        pytest.param([ev("greeted", t(1)), ev("left", t(1.5))], ClockState.MET, t(1), None, id="stop-then-cancel"),
        pytest.param([ev("greeted", t(3)), ev("left", t(4))], ClockState.MISSED, t(3), None, id="late-stop-then-cancel"),
    ],
)
def test_it_cancels_only_when_the_cancel_comes_before_the_stop(events, state, stop, cancelled_at):
    c = clock(GREET, [ev("seated", t(0)), *events], now=t(10))
    assert (c.state, c.stop, c.cancelled_at) == (state, stop, cancelled_at)
    if state is ClockState.CANCELLED:
        assert c.duration_s is None
        assert c.ended_at == cancelled_at


def test_it_ignores_a_cancel_from_before_the_start():
    c = clock(GREET, [ev("left", t(-5)), ev("seated", t(0))], now=t(1))
    assert c.state is ClockState.RUNNING
    assert c.cancelled_at is None


# --- pause and resume -------------------------------------------------------------------------

WAIT_FOR_DOCS = standard(
    id="open-account",
    start=(StartCandidate("ticket_issued"),),
    stop=("account_opened",),
    within=timedelta(minutes=10),
    pause_on=("documents_requested",),
    resume_on=("documents_received",),
)


def test_it_moves_the_deadline_out_by_the_paused_time():
    events = [ev("ticket_issued", t(0)), ev("documents_requested", t(2)), ev("documents_received", t(5))]
    c = clock(WAIT_FOR_DOCS, events, now=t(11))
    assert c.deadline == t(13)
    assert c.state is ClockState.RUNNING
    assert c.paused_since is None


def test_it_adds_up_several_pauses_and_leaves_them_out_of_the_duration():
    events = [
        ev("ticket_issued", t(0)),
        ev("documents_requested", t(1)), ev("documents_received", t(3)),
        ev("documents_requested", t(4)), ev("documents_received", t(7)),
        ev("account_opened", t(14)),
    ]
    c = clock(WAIT_FOR_DOCS, events, now=t(20))
    assert c.deadline == t(15)
    assert c.state is ClockState.MET
    assert c.duration_s == 9 * 60


def test_it_holds_a_paused_clock_without_breaching():
    events = [ev("ticket_issued", t(0)), ev("documents_requested", t(2))]
    c = clock(WAIT_FOR_DOCS, events, now=t(60))
    assert c.state is ClockState.PAUSED
    assert c.paused_since == t(2)
    assert c.deadline is None


def test_it_ignores_a_resume_without_a_pause_and_a_second_pause_while_paused():
    events = [
        ev("ticket_issued", t(0)), ev("documents_received", t(1)),
        ev("documents_requested", t(2)), ev("documents_requested", t(3)), ev("documents_received", t(4)),
    ]
    assert clock(WAIT_FOR_DOCS, events, now=t(5)).deadline == t(12)


def test_it_does_not_move_a_deadline_attr_deadline_for_a_pause():
    std = dataclasses.replace(WAIT_FOR_DOCS, deadline_attr="promised_by")
    events = [
        ev("ticket_issued", t(0), promised_by=t(30).isoformat()),
        ev("documents_requested", t(2)), ev("documents_received", t(12)),
    ]
    c = clock(std, events, now=t(31))
    assert c.deadline == t(30)
    assert c.state is ClockState.BREACHED


# --- repeat: each + correlate -----------------------------------------------------------------

SERVE_DRINKS = standard(
    id="serve-ordered-drinks",
    start=(StartCandidate("drink_ordered"),),
    stop=("drink_served",),
    within=timedelta(minutes=4),
    cancel_on=("left",),
    repeat="each",
    correlate="order_id",
)


def test_it_runs_one_clock_per_correlation_key_each_stopped_by_its_own_stop():
    events = [
        ev("seated", t(0)),
        ev("drink_ordered", t(1), order_id="o1"),
        ev("drink_ordered", t(2), order_id="o2"),
        ev("drink_served", t(3), order_id="o2"),
        ev("drink_served", t(6), order_id="o1"),
    ]
    clocks = {c.key: c for c in evaluate(SERVE_DRINKS, events, now=t(10))}
    assert set(clocks) == {"o1", "o2"}
    assert (clocks["o1"].start, clocks["o1"].stop, clocks["o1"].state) == (t(1), t(6), ClockState.MISSED)
    assert (clocks["o2"].start, clocks["o2"].stop, clocks["o2"].state) == (t(2), t(3), ClockState.MET)


def test_it_keeps_a_key_running_when_another_key_is_stopped():
    events = [ev("drink_ordered", t(0), order_id="o1"), ev("drink_ordered", t(0.5), order_id="o2"),
              ev("drink_served", t(1), order_id="o2")]
    clocks = {c.key: c for c in evaluate(SERVE_DRINKS, events, now=t(2))}
    assert clocks["o1"].state is ClockState.RUNNING
    assert clocks["o2"].state is ClockState.MET


def test_it_cancels_every_key_with_an_event_that_has_no_correlation_attribute():
    events = [
        ev("drink_ordered", t(1), order_id="o1"),
        ev("drink_ordered", t(2), order_id="o2"),
        ev("drink_served", t(2.5), order_id="o1"),
        ev("left", t(3)),
    ]
    clocks = {c.key: c for c in evaluate(SERVE_DRINKS, events, now=t(10))}
    assert clocks["o1"].state is ClockState.MET  # served before the guests left
    assert clocks["o2"].state is ClockState.CANCELLED
    assert clocks["o2"].cancelled_at == t(3)


def test_it_starts_each_keyed_clock_at_its_own_start_event():
    events = [
        ev("drink_ordered", t(0), id="order-without-id"),
        ev("drink_ordered", t(1), id="order-o1", order_id="o1"),
        ev("drink_served", t(4.5), order_id="o1"),
    ]
    c = clock(SERVE_DRINKS, events, now=t(10))
    assert (c.key, c.start_event_id, c.start) == ("o1", "order-o1", t(1))
    assert c.state is ClockState.MET  # served 3.5 min after its own order


# --- deadline_attr ----------------------------------------------------------------------------

REPLY = standard(
    id="reply-to-complaint",
    start=(StartCandidate("complaint_received"),),
    stop=("reply_sent",),
    within=timedelta(days=2),
    deadline_attr="promised_by",
)


@pytest.mark.parametrize(
    ("attrs", "deadline"),
    [
        pytest.param({"promised_by": "2026-11-25T12:00:00+08:00"}, datetime(2026, 11, 25, 12, tzinfo=BEIJING), id="offset"),
        pytest.param({"promised_by": "2026-11-25T04:00:00Z"}, datetime(2026, 11, 25, 4, tzinfo=timezone.utc), id="zulu"),
        # later than `within` would give: the attribute still wins
        pytest.param({"promised_by": "2026-12-01T09:00:00+08:00"}, datetime(2026, 12, 1, 9, tzinfo=BEIJING), id="later"),
        pytest.param({}, t(2 * 24 * 60), id="missing-falls-back-to-within"),
        pytest.param({"promised_by": None}, t(2 * 24 * 60), id="null-falls-back"),
        pytest.param({"promised_by": "next week"}, t(2 * 24 * 60), id="unparseable-falls-back"),
    ],
)
def test_it_takes_an_absolute_deadline_from_the_start_event(attrs, deadline):
    c = clock(REPLY, [ev("complaint_received", t(0), **attrs)], now=t(1))
    assert c.deadline == deadline


def test_it_judges_a_stop_against_the_deadline_attr_deadline():
    events = [ev("complaint_received", t(0), promised_by=t(60).isoformat()), ev("reply_sent", t(61))]
    assert clock(REPLY, events, now=t(100)).state is ClockState.MISSED


def test_it_has_no_deadline_with_neither_within_nor_the_attribute():
    std = dataclasses.replace(REPLY, within=None)
    c = clock(std, [ev("complaint_received", t(0))], now=t(100_000))
    assert c.deadline is None
    assert c.state is ClockState.RUNNING


# --- applies_to -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sites", "site", "applies"),
    [
        ((), "anywhere", True),
        (("bj-*",), "bj-01", True),
        (("bj-*",), "sh-01", False),
        (("sh-01", "bj-0?"), "bj-07", True),
        (("bj-0?",), "bj-010", False),
    ],
)
def test_it_applies_to_sites_matching_a_glob(sites, site, applies):
    std = standard(applies_to=AppliesTo(sites=sites))
    assert len(evaluate(std, [ev("seated", t(0), site=site)], now=t(1))) == int(applies)


@pytest.mark.parametrize(
    ("attrs", "applies"),
    [
        ({"area": "terrace", "party_size": 4}, True),
        ({"area": "hall", "party_size": 4}, False),
        ({"party_size": 4}, False),
        ({"area": "terrace", "party_size": 2}, False),
    ],
)
def test_it_applies_where_the_start_event_attributes_match(attrs, applies):
    std = standard(applies_to=AppliesTo(where={"area": "terrace", "party_size": 4}))
    assert len(evaluate(std, [ev("seated", t(0), **attrs)], now=t(1))) == int(applies)


def test_it_judges_where_on_the_start_event_not_on_later_events():
    std = standard(applies_to=AppliesTo(where={"area": "terrace"}))
    events = [ev("seated", t(0), area="hall"), ev("greeted", t(1), area="terrace")]
    assert evaluate(std, events, now=t(2)) == []


# --- calendars --------------------------------------------------------------------------------


def branch_hours(**kwargs) -> Calendar:
    weekly = {day: ((time(9), time(17, 30)),) for day in range(5)}
    return Calendar("branch-hours", SHANGHAI, weekly, **kwargs)


def hall(cal: Calendar) -> Standard:
    return standard(
        id="answer-enquiry",
        start=(StartCandidate("enquiry_received"),),
        stop=("enquiry_answered",),
        within=timedelta(hours=1),
        warn_after=timedelta(minutes=45),
        calendar=cal,
    )


def sh(y, mo, d, h=0, mi=0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SHANGHAI)


def test_it_counts_business_time_across_a_closed_night():
    std = hall(branch_hours())
    events = [ev("enquiry_received", sh(2026, 11, 24, 17))]
    c = clock(std, events, now=sh(2026, 11, 24, 23))
    assert c.deadline == sh(2026, 11, 25, 9, 30)
    assert c.warn_at == sh(2026, 11, 25, 9, 15)
    assert c.state is ClockState.RUNNING  # six wall-clock hours later, but only 30 business minutes


def test_it_measures_a_stopped_clock_in_business_time():
    std = hall(branch_hours())
    events = [ev("enquiry_received", sh(2026, 11, 24, 17)), ev("enquiry_answered", sh(2026, 11, 25, 9, 10))]
    c = clock(std, events, now=sh(2026, 11, 25, 12))
    assert c.duration_s == 40 * 60
    assert c.state is ClockState.MET


def test_it_starts_counting_at_the_next_opening_when_started_while_closed():
    std = hall(branch_hours())
    c = clock(std, [ev("enquiry_received", sh(2026, 11, 28, 11))], now=sh(2026, 11, 28, 12))  # a Saturday
    assert c.deadline == sh(2026, 11, 30, 10)


def test_it_skips_a_public_holiday():
    public = holidays.country_holidays("CN", years=2026)
    assert date(2026, 10, 1) in public  # National Day, per the holidays package
    reopens = date(2026, 10, 1)
    while reopens.weekday() >= 5 or reopens in public:
        reopens += timedelta(days=1)
    std = hall(branch_hours(holiday_country="CN"))
    c = clock(std, [ev("enquiry_received", sh(2026, 9, 30, 17))], now=sh(2026, 10, 2, 12))
    assert c.deadline == datetime.combine(reopens, time(9, 30), SHANGHAI)
    assert c.state is ClockState.RUNNING


def test_it_skips_an_explicit_holiday_date():
    std = hall(branch_hours(holiday_dates=frozenset({date(2026, 11, 25)})))
    c = clock(std, [ev("enquiry_received", sh(2026, 11, 24, 17))], now=sh(2026, 11, 25, 12))
    assert c.deadline == sh(2026, 11, 26, 9, 30)


def test_it_moves_the_deadline_by_paused_business_time_only():
    std = dataclasses.replace(hall(branch_hours()), pause_on=("customer_away",), resume_on=("customer_back",))
    events = [
        ev("enquiry_received", sh(2026, 11, 24, 17)),
        ev("customer_away", sh(2026, 11, 24, 17, 10)),
        ev("customer_back", sh(2026, 11, 25, 9, 10)),
    ]
    c = clock(std, events, now=sh(2026, 11, 25, 9, 15))
    # 16 wall hours paused, but only 20 min before closing + 10 min after opening were business time
    assert c.deadline == sh(2026, 11, 25, 9, 30) + timedelta(minutes=30)


# --- data gaps --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("later", "offline", "now", "data_gap"),
    [
        pytest.param([], [(t(1), t(5))], t(10), True, id="offline-over-the-deadline"),
        pytest.param([], [(t(1), None)], t(10), True, id="still-offline"),
        pytest.param([ev("greeted", t(6))], [(t(1), t(5))], t(10), True, id="stopped-late"),
        pytest.param([ev("greeted", t(1.5))], [(t(1), t(5))], t(10), False, id="stopped-in-time"),
        pytest.param([], [(t(0.5), t(1))], t(10), False, id="back-online-before-the-deadline"),
        pytest.param([], [(t(3), t(5))], t(10), False, id="offline-only-after-the-deadline"),
        pytest.param([], [(t(1), None)], t(1.5), False, id="deadline-not-yet-passed"),
        pytest.param([], [], t(10), False, id="never-offline"),
    ],
)
def test_it_flags_a_data_gap_when_the_deadline_passed_while_offline(later, offline, now, data_gap):
    c = clock(standard(), [ev("seated", t(0)), *later], now=now, offline=offline)
    assert c.data_gap is data_gap


# --- states over time -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "state"),
    [
        (t(0), ClockState.RUNNING),
        (t(2, seconds=-1), ClockState.RUNNING),
        (t(2), ClockState.RUNNING),  # now ≤ deadline
        (t(2, seconds=1), ClockState.BREACHED),
        (t(60), ClockState.BREACHED),
    ],
)
def test_it_goes_from_running_to_breached_as_now_passes_the_deadline(now, state):
    assert clock(standard(), [ev("seated", t(0))], now=now).state is state


@pytest.mark.parametrize(
    ("stop", "state"),
    [
        (t(2, seconds=-1), ClockState.MET),
        (t(2), ClockState.MET),  # at the deadline is in time
        (t(2, seconds=1), ClockState.MISSED),
    ],
)
def test_it_meets_at_the_deadline_and_misses_after_it(stop, state):
    c = clock(standard(), [ev("seated", t(0)), ev("greeted", stop)], now=t(10))
    assert c.state is state
    assert c.duration_s == (stop - t(0)).total_seconds()


def test_it_decides_a_stopped_clock_whatever_now_is():
    events = [ev("seated", t(0)), ev("greeted", t(1))]
    assert clock(standard(), events, now=t(1)).state is ClockState.MET
    assert clock(standard(), events, now=t(1000)).state is ClockState.MET


def test_it_sets_the_warning_time_from_warn_after():
    c = clock(standard(warn_after=timedelta(seconds=90)), [ev("seated", t(0))], now=t(0))
    assert c.warn_at == t(1.5)


# --- order, duplicates, late events -----------------------------------------------------------

ORDER_IDS = st.sampled_from([None, "o1", "o2", "o3"])
PROPERTY_STANDARDS = [
    dataclasses.replace(
        SERVE_DRINKS, pause_on=("paused",), resume_on=("resumed",), warn_after=timedelta(minutes=3)
    ),
    dataclasses.replace(
        OFFER_FOOD, cancel_on=("left",), pause_on=("paused",), resume_on=("resumed",)
    ),
]
PROPERTY_TYPES = [
    "seated", "drink_ordered", "drink_served", "food_order_offered", "left", "paused", "resumed",
]


@settings(max_examples=300, deadline=None)
@given(
    std=st.sampled_from(PROPERTY_STANDARDS),
    specs=st.lists(
        st.tuples(st.sampled_from(PROPERTY_TYPES), st.integers(-60, 900), ORDER_IDS), max_size=14
    ),
    now_s=st.integers(0, 1200),
    data=st.data(),
)
def test_it_gives_the_same_clocks_whatever_the_order_and_duplicates(std, specs, now_s, data):
    events = [
        Event(id=f"e{i}", case=CASE, type=type_, at=t(seconds=s), site=SITE,
              attrs={} if key is None else {"order_id": key})
        for i, (type_, s, key) in enumerate(specs)
    ]
    resent = data.draw(st.lists(st.sampled_from(events), max_size=6)) if events else []
    resent = [dataclasses.replace(e) for e in resent]  # equal copies, as a device resends them
    scrambled = data.draw(st.permutations(events + resent))
    offline = [(t(1), t(3))]
    now = t(seconds=now_s)
    assert evaluate(std, scrambled, now, offline=offline) == evaluate(std, events, now, offline=offline)
