"""Business-time calendars and the time arithmetic clocks count in.

A clock counts only time that is inside an open window of its calendar (all time when it has
none) and outside its pauses. Every function takes and returns aware datetimes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Iterable, Iterator, Mapping, Sequence
from zoneinfo import ZoneInfo

import holidays as holiday_data

from monitor.core.messages import MessageError, msg

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: How far ahead a calendar is searched for open time before giving up (a year of holidays).
SEARCH_DAYS = 400
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=timezone.utc)

Window = tuple[time, time]
Interval = tuple[datetime, datetime | None]


@lru_cache(maxsize=64)
def _country_holidays(country: str, year: int) -> frozenset[date]:
    return frozenset(holiday_data.country_holidays(country, years=year).keys())


@dataclass(frozen=True)
class Calendar:
    """Weekly open windows in a timezone, closed on public holidays and listed dates."""

    name: str
    timezone: ZoneInfo
    weekly: Mapping[int, tuple[Window, ...]]
    holiday_country: str | None = None
    holiday_dates: frozenset[date] = field(default_factory=frozenset)

    def is_holiday(self, day: date) -> bool:
        if day in self.holiday_dates:
            return True
        return self.holiday_country is not None and day in _country_holidays(self.holiday_country, day.year)

    def windows_from(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open windows from ``start`` on, the first one clipped to ``start``."""
        local_day = start.astimezone(self.timezone).date() - timedelta(days=1)
        for offset in range(SEARCH_DAYS):
            day = local_day + timedelta(days=offset)
            if self.is_holiday(day):
                continue
            for opens, closes in self.weekly.get(day.weekday(), ()):
                begin = datetime.combine(day, opens, self.timezone)
                end = (
                    datetime.combine(day + timedelta(days=1), time(0), self.timezone)
                    if closes == time(0)
                    else datetime.combine(day, closes, self.timezone)
                )
                # Counted in UTC: same-zone aware arithmetic would use wall time and miscount
                # the hour a daylight-saving change adds or removes inside a window.
                begin, end = begin.astimezone(timezone.utc), end.astimezone(timezone.utc)
                if end > start:
                    yield max(begin, start), end


_WINDOW = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])-(?:([01][0-9]|2[0-3]):([0-5][0-9])|(24):(00))$")


def parse_window(text: str) -> Window:
    """``"09:00-17:30"`` → (09:00, 17:30); an end of ``24:00`` (or ``00:00``) means midnight."""
    match = _WINDOW.match(text.replace(" ", "")) if isinstance(text, str) else None
    if match is None:
        raise MessageError(msg("bad window {value}: write HH:MM-HH:MM, e.g. 09:00-17:30", value=repr(text)))
    hour, minute, end_hour, end_minute, _, _ = match.groups()
    opens = time(int(hour), int(minute))
    closes = time(int(end_hour), int(end_minute)) if end_hour is not None else time(0)
    if closes != time(0) and closes <= opens:
        raise MessageError(msg("bad window {value}: it must close after it opens", value=repr(text)))
    return opens, closes


def parse_days(text: str) -> list[int]:
    """``"mon-fri"`` → [0..4]; ``"sat"`` → [5]."""
    parts = [part.strip().lower() for part in text.split("-")]
    if len(parts) > 2 or any(part not in DAY_NAMES for part in parts):
        raise MessageError(msg("bad day {value}: use mon … sun or a range such as mon-fri", value=repr(text)))
    first, last = DAY_NAMES.index(parts[0]), DAY_NAMES.index(parts[-1])
    if last < first:
        raise MessageError(msg("bad day range {value}: write it from the earlier day, e.g. mon-fri", value=repr(text)))
    return list(range(first, last + 1))


def _always(start: datetime) -> Iterator[tuple[datetime, datetime]]:
    yield start, FAR_FUTURE


def counting_windows(
    start: datetime, calendar: Calendar | None, pauses: Sequence[Interval] = ()
) -> Iterator[tuple[datetime, datetime]]:
    """The stretches from ``start`` on in which a clock counts: open time minus pauses."""
    windows = calendar.windows_from(start) if calendar else _always(start)
    for begin, end in windows:
        yield from _subtract(begin, end, pauses)


def _subtract(begin: datetime, end: datetime, pauses: Iterable[Interval]) -> Iterator[tuple[datetime, datetime]]:
    cursor = begin
    for pause_start, pause_end in pauses:
        pause_end = pause_end or FAR_FUTURE
        if pause_end <= cursor or pause_start >= end:
            continue
        if pause_start > cursor:
            yield cursor, pause_start
        cursor = max(cursor, pause_end)
        if cursor >= end:
            return
    if cursor < end:
        yield cursor, end


def add_counted(
    start: datetime, duration: timedelta, calendar: Calendar | None, pauses: Sequence[Interval] = ()
) -> datetime | None:
    """When ``duration`` of counted time has passed since ``start``; None if never (held paused)."""
    remaining = duration
    for begin, end in counting_windows(start, calendar, pauses):
        if end >= FAR_FUTURE and begin >= FAR_FUTURE:
            break
        if begin + remaining <= end:
            return begin + remaining
        remaining -= end - begin
    return None


def counted_between(
    start: datetime, end: datetime, calendar: Calendar | None, pauses: Sequence[Interval] = ()
) -> timedelta:
    """Counted time in ``[start, end)``."""
    total = timedelta(0)
    if end <= start:
        return total
    for begin, stop in counting_windows(start, calendar, pauses):
        if begin >= end:
            break
        total += min(stop, end) - begin
    return total
