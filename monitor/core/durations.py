"""Durations as written in standards files: ``90s``, ``2m``, ``1h30m``, ``2d``."""
from __future__ import annotations

import re
from datetime import timedelta

from monitor.core.messages import MessageError, msg

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"^(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?$")
#: Longer than any promise a floor makes; also keeps datetime arithmetic from overflowing.
MAX_DURATION = timedelta(days=3660)


def parse_duration(text: str) -> timedelta:
    """Parse whole units in the order d, h, m, s; raise a ValueError (a MessageError) saying what is accepted."""
    if not isinstance(text, str):
        raise MessageError(msg("duration must be text like 90s, 2m, 1h30m or 2d, not {value}", value=repr(text)))
    match = _DURATION.match(text.strip())
    if not text.strip() or match is None:
        raise MessageError(msg("bad duration {value}: use whole units d, h, m, s in that order, e.g. 90s, 2m, 1h30m, 2d",
                                   value=repr(text)))
    seconds = sum(int(value) * unit for value, unit in zip(match.groups(), _UNITS.values()) if value)
    if seconds <= 0:
        raise MessageError(msg("duration {value} must be longer than zero", value=repr(text)))
    if seconds > MAX_DURATION.total_seconds():
        raise MessageError(msg("duration {value} is longer than the {days}d limit", value=repr(text),
                               days=MAX_DURATION.days))
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest text that parse_duration reads back as the same duration."""
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in _UNITS.items():
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
