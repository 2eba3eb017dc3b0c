"""Clock evaluation (SPEC §3.2) as a pure function of (standard, the case's events, now).

Nothing is carried over between calls: every evaluation starts from the case's full event list,
so duplicates, late and out-of-order events give the same clocks as a clean stream.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Iterable, Sequence

from monitor.core.calendars import Interval, add_counted, counted_between
from monitor.core.events import Event
from monitor.core.standards import Standard

DEFAULT_SKEW = timedelta(seconds=30)
#: Deadlines outside these years are device faults (and near datetime's limits arithmetic overflows).
EARLIEST = datetime(1900, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(9000, 1, 1, tzinfo=timezone.utc)


def in_range(value: datetime) -> bool:
    """Within EARLIEST..LATEST; False too when converting to UTC overflows (year 1, +05:00)."""
    try:
        return EARLIEST <= value.astimezone(timezone.utc) < LATEST
    except OverflowError:
        return False


class ClockState(StrEnum):
    RUNNING = "running"
    BREACHED = "breached"
    PAUSED = "paused"
    MET = "met"
    MISSED = "missed"
    CANCELLED = "cancelled"

    @property
    def decided(self) -> bool:
        return self in (ClockState.MET, ClockState.MISSED, ClockState.CANCELLED)


@dataclass(frozen=True)
class Clock:
    standard: str
    version: int
    case: str
    key: str
    site: str
    staff: str | None
    start_event_id: str
    start: datetime
    deadline: datetime | None
    warn_at: datetime | None
    stop: datetime | None
    cancelled_at: datetime | None
    paused_since: datetime | None
    state: ClockState
    duration_s: float | None
    data_gap: bool

    @property
    def ended_at(self) -> datetime | None:
        """When the clock stopped counting for good (stop or cancel)."""
        return self.cancelled_at or self.stop


def evaluate(
    standard: Standard,
    events: Iterable[Event],
    now: datetime,
    *,
    offline: Sequence[Interval] = (),
    skew: timedelta = DEFAULT_SKEW,
) -> list[Clock]:
    """Every clock the standard runs over one case's events, judged at ``now``.

    ``offline`` holds the intervals in which a device of the case's site reported offline.
    """
    ordered = unique_sorted(events)
    if standard.repeat is None:
        groups = {"": ordered}
    else:
        groups = _group_by_key(standard, ordered)
    clocks = []
    for key, scoped in groups.items():
        clock = _evaluate_one(standard, scoped, key, now, offline, skew)
        if clock is not None:
            clocks.append(clock)
    return clocks


def unique_sorted(events: Iterable[Event]) -> list[Event]:
    """Each event once — an event is its (site, id) (SPEC §1) — in event-time order."""
    by_id = {(event.site, event.id): event for event in events}
    return sorted(by_id.values(), key=Event.sort_key)


def _group_by_key(standard: Standard, events: list[Event]) -> dict[str, list[Event]]:
    """One event list per correlation key.

    Starts and stops count only with the key (SPEC: "stopped by the first stop event with the
    same attrs[ATTR]"); cancel, pause and resume events without the attribute concern every key,
    so a guest leaving (no ``order_id``) cancels every open drink order of the table.
    """
    attr = standard.correlate or ""
    keyed_only = standard.start_types | set(standard.stop)
    keys = [
        _key_text(event.attrs.get(attr))
        for event in events
        if event.type in standard.start_types and attr in event.attrs
    ]

    def belongs(event: Event, key: str) -> bool:
        if attr in event.attrs:
            return _key_text(event.attrs[attr]) == key
        return event.type not in keyed_only

    return {key: [e for e in events if belongs(e, key)] for key in dict.fromkeys(keys)}


KEY_LENGTH = 200  # the width of the stored key


def _key_text(value: object) -> str:
    """The correlation key as stored; an overlong one is replaced by its hash, still unique."""
    text = "" if value is None else str(value)
    if len(text) <= KEY_LENGTH:
        return text
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "backslashreplace")).hexdigest()


def _find_start(standard: Standard, events: list[Event]) -> Event | None:
    present = {event.type for event in events}
    for candidate in standard.start:
        if candidate.event in present and (candidate.unless is None or candidate.unless not in present):
            return next(e for e in events if e.type == candidate.event)
    return None


def _first_at_or_after(events: list[Event], types: Sequence[str], earliest: datetime) -> Event | None:
    return next((e for e in events if e.type in types and e.at >= earliest), None)


def _pauses(standard: Standard, events: list[Event], start: datetime, end: datetime | None) -> list[Interval]:
    """Pause intervals after the start and before the end; the last may still be open."""
    intervals: list[Interval] = []
    paused_at: datetime | None = None
    for event in events:
        if event.at < start or (end is not None and event.at >= end):
            continue
        if paused_at is None and event.type in standard.pause_on:
            paused_at = event.at
        elif paused_at is not None and event.type in standard.resume_on:
            intervals.append((paused_at, event.at))
            paused_at = None
    if paused_at is not None:
        intervals.append((paused_at, end))
    return intervals


def _absolute_deadline(standard: Standard, start_event: Event) -> datetime | None:
    if standard.deadline_attr is None:
        return None
    value = start_event.attrs.get(standard.deadline_attr)
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None or not in_range(parsed):
        return None  # unusable: the clock falls back to ``within``
    return parsed


def _evaluate_one(
    standard: Standard,
    events: list[Event],
    key: str,
    now: datetime,
    offline: Sequence[Interval],
    skew: timedelta,
) -> Clock | None:
    start_event = _find_start(standard, events)
    if start_event is None or not standard.applies_to.matches(start_event):
        return None
    start = start_event.at
    stop_event = _first_at_or_after(events, standard.stop, start - skew)
    cancel_event = _first_at_or_after(events, standard.cancel_on, start - skew)
    if cancel_event is not None and stop_event is not None and stop_event.at <= cancel_event.at:
        cancel_event = None
    stop = stop_event.at if stop_event is not None and cancel_event is None else None
    cancelled_at = cancel_event.at if cancel_event is not None else None
    end = stop or cancelled_at
    pauses = _pauses(standard, events, start, end)
    paused_since = pauses[-1][0] if pauses and pauses[-1][1] is None and end is None else None

    fixed = _absolute_deadline(standard, start_event)
    if fixed is not None:
        deadline = fixed
    elif standard.within is not None:
        deadline = add_counted(start, standard.within, standard.calendar, pauses)
    else:
        deadline = None
    warn_at = (
        add_counted(start, standard.warn_after, standard.calendar, pauses) if standard.warn_after else None
    )

    duration_s = None
    if stop is not None:
        if fixed is not None or stop <= start:
            duration_s = max(0.0, (stop - start).total_seconds())
        else:
            duration_s = counted_between(start, stop, standard.calendar, pauses).total_seconds()

    state = _state(stop, cancelled_at, paused_since, deadline, now)
    return Clock(
        standard=standard.id,
        version=standard.version,
        case=start_event.case,
        key=key,
        site=start_event.site,
        staff=start_event.staff,
        start_event_id=start_event.id,
        start=start,
        deadline=deadline,
        warn_at=warn_at,
        stop=stop,
        cancelled_at=cancelled_at,
        paused_since=paused_since,
        state=state,
        duration_s=duration_s,
        data_gap=_data_gap(deadline, stop, cancelled_at, now, offline),
    )


def _state(
    stop: datetime | None,
    cancelled_at: datetime | None,
    paused_since: datetime | None,
    deadline: datetime | None,
    now: datetime,
) -> ClockState:
    if cancelled_at is not None:
        return ClockState.CANCELLED
    if stop is not None:
        return ClockState.MET if deadline is None or stop <= deadline else ClockState.MISSED
    if paused_since is not None:
        return ClockState.PAUSED
    if deadline is not None and now > deadline:
        return ClockState.BREACHED
    return ClockState.RUNNING


def _data_gap(
    deadline: datetime | None,
    stop: datetime | None,
    cancelled_at: datetime | None,
    now: datetime,
    offline: Sequence[Interval],
) -> bool:
    """The deadline passed, unmet, while a device of the site said it was offline."""
    if deadline is None or deadline >= now or cancelled_at is not None:
        return False
    if stop is not None and stop <= deadline:
        return False
    return any(begin <= deadline and (end is None or deadline < end) for begin, end in offline)
