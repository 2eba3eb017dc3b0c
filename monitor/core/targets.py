"""Does a standard's text still say the target its rule no longer has?

Floor staff read ``description`` ("within 2 minutes"), the clock reads ``within``; an edit that
changes one and not the other makes the board and the printed standard disagree. Pure functions.
"""
from __future__ import annotations

import re
from datetime import timedelta
from typing import Iterable

from monitor.core.durations import format_duration
from monitor.core.messages import Message, msg
from monitor.core.standards import Standard

#: unit in seconds → how it is written after a number, in English and Chinese
_UNITS = ((86400, r"(?:days?|d\b|天|日)"), (3600, r"(?:hours?|hrs?\b|h\b|小时|個小時|个小时)"),
          (60, r"(?:minutes?|mins?\b|m\b|分钟|分鐘|分)"), (1, r"(?:seconds?|secs?\b|s\b|秒)"))


def _phrases(target: timedelta) -> list[re.Pattern[str]]:
    """Every way of writing ``target`` as a whole number of one unit: 2m → "2 minutes", "120 s", …"""
    seconds = int(target.total_seconds())
    return [re.compile(rf"(?<![\d.,]){seconds // unit}\s*{words}", re.IGNORECASE)
            for unit, words in _UNITS if seconds and seconds % unit == 0]


def _says(text: str, target: timedelta) -> str | None:
    for pattern in _phrases(target):
        found = pattern.search(text)
        if found:
            return found.group(0)
    return None


def stale_descriptions(before: Iterable[Standard], after: Iterable[Standard]) -> list[Message]:
    """One line per standard whose ``within`` changed while its name or description still names
    the old target and not the new one."""
    old = {s.id: s for s in before}
    warnings = []
    for standard in after:
        previous = old.get(standard.id)
        if previous is None or not previous.within or not standard.within or previous.within == standard.within:
            continue
        text = f"{standard.name}\n{standard.description}"
        stale = _says(text, previous.within)
        if stale and not _says(text, standard.within):
            warnings.append(msg("{standard}: the target changed from {before} to {after}, but the text still says "
                                "“{stale}”", standard=standard.id, before=format_duration(previous.within),
                                after=format_duration(standard.within), stale=stale))
    return warnings
