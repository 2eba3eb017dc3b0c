"""Business-time calendars (SPEC §3.3): weekly windows, holidays, pauses, and DST."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import holidays
import pytest

from monitor.core.calendars import Calendar, add_counted, counted_between, parse_days, parse_window

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
UTC = timezone.utc


def calendar(tz=SHANGHAI, weekly=None, country=None, dates=()):
    """Office hours Mon–Fri 09:00–17:30 unless told otherwise."""
    if weekly is None:
        weekly = {day: ((time(9), time(17, 30)),) for day in range(5)}
    return Calendar("branch-hours", tz, weekly, holiday_country=country, holiday_dates=frozenset(dates))


def at(y, mo, d, h=0, mi=0, tz=SHANGHAI):
    return datetime(y, mo, d, h, mi, tzinfo=tz)


# --- parse_window / parse_days ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("09:00-17:30", (time(9), time(17, 30))),
        (" 09:00 - 17:30 ", (time(9), time(17, 30))),
        ("18:00-24:00", (time(18), time(0))),  # 24:00 closes at midnight
        ("00:00-24:00", (time(0), time(0))),
    ],
)
def test_it_parses_a_window(text, expected):
    assert parse_window(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "09:00",
        "09:00-",
        "-17:30",
        "09:00-17:30-18:00",
        "17:30-09:00",  # closes before it opens
        "09:00-09:00",  # empty
        "24:00-24:00",  # 24:00 only ends a window
        "25:00-26:00",
        "09:60-10:00",
        "nine-five",
        "09:00+08:00-17:30",
    ],
)
def test_it_refuses_a_bad_window(text):
    with pytest.raises(ValueError, match="bad window"):
        parse_window(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mon", [0]),
        ("sun", [6]),
        ("mon-fri", [0, 1, 2, 3, 4]),
        ("sat-sun", [5, 6]),
        ("Mon-Fri", [0, 1, 2, 3, 4]),
        ("wed-wed", [2]),
    ],
)
def test_it_parses_days(text, expected):
    assert parse_days(text) == expected


@pytest.mark.parametrize(
    "text", ["", "monday", "mon-", "-fri", "fri-mon", "mon-wed-fri", "mon,tue", "1-5", "xyz"]
)
def test_it_refuses_bad_days(text):
    with pytest.raises(ValueError):
        parse_days(text)


def test_it_says_how_to_write_a_backwards_range():
    with pytest.raises(ValueError, match="earlier day"):
        parse_days("fri-mon")


# --- add_counted / counted_between ------------------------------------------------------------


def test_it_counts_wall_time_without_a_calendar():
    start = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
    assert add_counted(start, timedelta(minutes=4), None) == start + timedelta(minutes=4)
    assert counted_between(start, start + timedelta(minutes=4), None) == timedelta(minutes=4)


@pytest.mark.parametrize(
    ("start", "within", "expected"),
    [
        # inside one window
        (at(2026, 11, 24, 10), timedelta(hours=1), at(2026, 11, 24, 11)),
        # across a closed night: 30 min today, 30 min tomorrow
        (at(2026, 11, 24, 17), timedelta(hours=1), at(2026, 11, 25, 9, 30)),
        # ends exactly at closing time
        (at(2026, 11, 24, 17), timedelta(minutes=30), at(2026, 11, 24, 17, 30)),
        # started while closed (evening): counts from the next opening
        (at(2026, 11, 24, 20), timedelta(hours=1), at(2026, 11, 25, 10)),
        # started while closed (early morning)
        (at(2026, 11, 24, 6), timedelta(hours=1), at(2026, 11, 24, 10)),
        # started on a Saturday: counts from Monday's opening
        (at(2026, 11, 28, 11), timedelta(hours=1), at(2026, 11, 30, 10)),
        # Friday afternoon over the weekend
        (at(2026, 11, 27, 17), timedelta(hours=1), at(2026, 11, 30, 9, 30)),
        # two whole business days end at the second day's closing, not the third day's opening
        (at(2026, 11, 24, 9), timedelta(hours=17), at(2026, 11, 25, 17, 30)),
        (at(2026, 11, 24, 9), timedelta(hours=17, minutes=1), at(2026, 11, 26, 9, 1)),
    ],
)
def test_it_adds_business_time(start, within, expected):
    assert add_counted(start, within, calendar()) == expected


def test_it_counts_several_windows_a_day():
    lunch_break = calendar(weekly={0: ((time(9), time(12)), (time(13), time(17)))})
    start = at(2026, 11, 23, 11, 30)  # a Monday
    assert add_counted(start, timedelta(hours=1), lunch_break) == at(2026, 11, 23, 13, 30)
    assert counted_between(start, at(2026, 11, 23, 13, 30), lunch_break) == timedelta(hours=1)


def test_it_counts_a_window_ending_at_24_00_up_to_midnight():
    evenings = calendar(weekly={d: (parse_window("18:00-24:00"),) for d in range(7)})
    start = at(2026, 11, 24, 23, 30)
    assert add_counted(start, timedelta(hours=1), evenings) == at(2026, 11, 25, 18, 30)
    assert counted_between(start, at(2026, 11, 25, 18, 30), evenings) == timedelta(hours=1)


def test_it_treats_00_00_to_24_00_every_day_as_always_open():
    always = calendar(weekly={d: (parse_window("00:00-24:00"),) for d in range(7)})
    start = at(2026, 11, 24, 23, 59)
    assert add_counted(start, timedelta(hours=48), always) == start + timedelta(hours=48)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (at(2026, 11, 24, 10), at(2026, 11, 24, 11), timedelta(hours=1)),
        (at(2026, 11, 24, 17), at(2026, 11, 25, 9, 30), timedelta(hours=1)),
        (at(2026, 11, 24, 18), at(2026, 11, 25, 8), timedelta(0)),  # all closed
        (at(2026, 11, 27, 17), at(2026, 11, 30, 9, 30), timedelta(hours=1)),
        (at(2026, 11, 24, 11), at(2026, 11, 24, 10), timedelta(0)),  # end before start
        (at(2026, 11, 24, 10), at(2026, 11, 24, 10), timedelta(0)),
    ],
)
def test_it_measures_business_time_between_two_instants(start, end, expected):
    assert counted_between(start, end, calendar()) == expected


def test_it_works_with_instants_in_another_zone():
    # 17:00 Shanghai written in UTC: the answer is the same instant.
    start = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert add_counted(start, timedelta(hours=1), calendar()) == at(2026, 11, 25, 9, 30)


@pytest.mark.parametrize(
    ("pauses", "expected"),
    [
        ([], at(2026, 11, 24, 11)),
        ([(at(2026, 11, 24, 10, 15), at(2026, 11, 24, 10, 45))], at(2026, 11, 24, 11, 30)),
        # two pauses add up
        (
            [(at(2026, 11, 24, 10, 10), at(2026, 11, 24, 10, 20)), (at(2026, 11, 24, 10, 30), at(2026, 11, 24, 10, 40))],
            at(2026, 11, 24, 11, 20),
        ),
        # a pause over closed time moves nothing: only business time is added back
        ([(at(2026, 11, 24, 10, 30), at(2026, 11, 25, 9, 30))], at(2026, 11, 25, 10)),
        # a pause after the deadline changes nothing
        ([(at(2026, 11, 24, 12), at(2026, 11, 24, 13))], at(2026, 11, 24, 11)),
    ],
)
def test_it_adds_business_time_around_pauses(pauses, expected):
    assert add_counted(at(2026, 11, 24, 10), timedelta(hours=1), calendar(), pauses) == expected


def test_it_never_reaches_the_end_while_held_by_an_open_pause():
    pauses = [(at(2026, 11, 24, 10, 30), None)]
    assert add_counted(at(2026, 11, 24, 10), timedelta(hours=1), calendar(), pauses) is None
    assert add_counted(at(2026, 11, 24, 10), timedelta(hours=1), None, pauses) is None


def test_it_reaches_the_end_before_an_open_pause_that_starts_later():
    pauses = [(at(2026, 11, 24, 12), None)]
    assert add_counted(at(2026, 11, 24, 10), timedelta(hours=1), None, pauses) == at(2026, 11, 24, 11)


def test_it_leaves_paused_time_out_of_a_measurement():
    pauses = [(at(2026, 11, 24, 10, 15), at(2026, 11, 24, 10, 45))]
    assert counted_between(at(2026, 11, 24, 10), at(2026, 11, 24, 11), calendar(), pauses) == timedelta(minutes=30)
    assert counted_between(at(2026, 11, 24, 10), at(2026, 11, 24, 11), None, pauses) == timedelta(minutes=30)


# --- holidays ---------------------------------------------------------------------------------


def test_it_closes_on_explicit_holiday_dates():
    cal = calendar(dates=[date(2026, 11, 25)])
    assert cal.is_holiday(date(2026, 11, 25))
    assert add_counted(at(2026, 11, 24, 17), timedelta(hours=1), cal) == at(2026, 11, 26, 9, 30)
    assert counted_between(at(2026, 11, 24, 17), at(2026, 11, 26, 9, 30), cal) == timedelta(hours=1)


def _next_cn_business_day(after: date) -> date:
    """The next Mon–Fri after ``after`` that the holidays package does not list for CN."""
    public = holidays.country_holidays("CN", years=[after.year, after.year + 1])
    day = after + timedelta(days=1)
    while day.weekday() >= 5 or day in public:
        day += timedelta(days=1)
    return day


def test_it_closes_on_the_countrys_public_holidays():
    public = holidays.country_holidays("CN", years=2026)
    assert date(2026, 10, 1) in public  # National Day
    assert date(2026, 9, 30) not in public and date(2026, 9, 30).weekday() < 5
    cal = calendar(country="CN")
    assert cal.is_holiday(date(2026, 10, 1))
    assert not cal.is_holiday(date(2026, 9, 30))

    reopens = _next_cn_business_day(date(2026, 9, 30))
    assert reopens > date(2026, 10, 1)
    expected = datetime.combine(reopens, time(9, 30), SHANGHAI)
    assert add_counted(at(2026, 9, 30, 17), timedelta(hours=1), cal) == expected
    assert counted_between(at(2026, 9, 30, 17), expected, cal) == timedelta(hours=1)


def test_it_uses_the_local_date_to_decide_a_holiday():
    # 2026-10-01 00:30 in Shanghai is still 2026-09-30 in UTC; the window is Shanghai's.
    always = calendar(weekly={d: (parse_window("00:00-24:00"),) for d in range(7)}, dates=[date(2026, 10, 1)])
    start = datetime(2026, 9, 30, 16, 30, tzinfo=UTC)  # 00:30 on 1 October in Shanghai
    assert add_counted(start, timedelta(minutes=10), always) == at(2026, 10, 2, 0, 10)


# --- daylight saving time ---------------------------------------------------------------------


def test_it_keeps_office_hours_right_across_the_spring_change():
    # Berlin moves from CET (+01) to CEST (+02) on Sunday 2026-03-29.
    cal = calendar(tz=BERLIN)
    friday = datetime(2026, 3, 27, 17, 0, tzinfo=BERLIN)
    deadline = add_counted(friday, timedelta(hours=1), cal)
    assert deadline == datetime(2026, 3, 30, 9, 30, tzinfo=BERLIN)
    assert deadline.astimezone(UTC) == datetime(2026, 3, 30, 7, 30, tzinfo=UTC)
    assert counted_between(friday, deadline, cal) == timedelta(hours=1)


def test_it_keeps_office_hours_right_across_the_autumn_change():
    cal = calendar(tz=BERLIN)
    friday = datetime(2026, 10, 23, 17, 0, tzinfo=BERLIN)  # CEST; Sunday 25 goes back to CET
    deadline = add_counted(friday, timedelta(hours=1), cal)
    assert deadline.astimezone(UTC) == datetime(2026, 10, 26, 8, 30, tzinfo=UTC)  # 09:30 CET


_DST_WINDOW_BUG = (
    "BUG: window lengths and `begin + remaining` use Python's same-tzinfo (wall-clock) arithmetic, "
    "so a window that contains a DST change counts its wall length (00:00-06:00 on 2026-03-29 in "
    "Europe/Berlin counts 6h instead of the real 5h)"
)


def test_it_counts_real_time_in_a_window_that_holds_the_spring_change():
    nights = calendar(tz=BERLIN, weekly={d: (parse_window("00:00-06:00"),) for d in range(7)})
    opening = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)  # 00:00 CET on the 29th
    closing = datetime(2026, 3, 29, 4, 0, tzinfo=UTC)  # 06:00 CEST: the window is 5 real hours
    assert counted_between(opening, datetime(2026, 3, 29, 12, 0, tzinfo=UTC), nights) == timedelta(hours=5)
    assert add_counted(opening, timedelta(hours=5), nights) == closing


def test_it_counts_real_time_on_a_round_the_clock_calendar_across_the_spring_change():
    always = calendar(tz=BERLIN, weekly={d: (parse_window("00:00-24:00"),) for d in range(7)})
    start = datetime(2026, 3, 28, 22, 0, tzinfo=UTC)  # 23:00 CET
    # Open all the time, so four business hours are four real hours.
    assert add_counted(start, timedelta(hours=4), always) == start + timedelta(hours=4)


def test_it_counts_real_time_in_a_window_that_holds_the_autumn_change():
    nights = calendar(tz=BERLIN, weekly={d: (parse_window("00:00-06:00"),) for d in range(7)})
    opening = datetime(2026, 10, 24, 22, 0, tzinfo=UTC)  # 00:00 CEST on the 25th
    closing = datetime(2026, 10, 25, 5, 0, tzinfo=UTC)  # 06:00 CET: the window is 7 real hours
    assert counted_between(opening, datetime(2026, 10, 25, 12, 0, tzinfo=UTC), nights) == timedelta(hours=7)
    assert add_counted(opening, timedelta(hours=7), nights) == closing
