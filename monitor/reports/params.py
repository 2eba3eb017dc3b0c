"""What a compliance report covers, parsed once for the API and the CLI alike.

Bounds are a date or an instant:

* a date (``2026-11-25``) means midnight *in each clock's own site timezone*, so
  ``from=2026-11-25&to=2026-11-26`` is exactly the local day 2026-11-25 at every site — the same
  day a ``group_by=day`` row is labelled with;
* an RFC 3339 timestamp with an offset (``2026-11-24T17:30:00Z``) is that instant, for every site.

``to`` defaults to tomorrow (UTC date), so a report runs up to now; ``from`` defaults to 28 days
before ``to``: without bounds, the last 28 days including today.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterable, Union

from monitor.core.clocks import EARLIEST, LATEST, in_range
from monitor.core.messages import Message, MessageError, msg
from monitor.reports.formats import FORMATS, ReportFormat
from monitor.reports.groups import GROUP_KEYS

Bound = Union[date, datetime]  # a datetime is always aware; a date is site-local midnight

DEFAULT_DAYS = 28

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# "+08:00" arrives as " 08:00" when a client forgets to URL-encode the plus sign.
_SPACED_OFFSET = re.compile(r"^(.*T[\d:.]+) (\d{2}:?\d{2})$")


class ReportParamError(MessageError):
    """A report parameter that cannot be used; ``param`` names it for the 400 answer."""

    def __init__(self, param: str, message: Message) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class ReportQuery:
    start: Bound
    end: Bound
    sites: tuple[str, ...] = ()
    standards: tuple[str, ...] = ()
    group_by: tuple[str, ...] = ()


def parse_bound(param: str, text: str) -> Bound:
    bound = _parse_bound(param, text.strip())
    if not EARLIEST.date() <= (bound if isinstance(bound, date) and not isinstance(bound, datetime)
                               else bound.date()) < LATEST.date():
        raise ReportParamError(param, msg("{param}: {text} is outside the years 1900 to 8999", param=param,
                                          text=repr(text.strip())))
    return bound


def _parse_bound(param: str, text: str) -> Bound:
    if _DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise ReportParamError(param, msg("{param}: {text} is not a real date", param=param,
                                              text=repr(text))) from None
    spaced = _SPACED_OFFSET.match(text)
    if spaced:
        text = f"{spaced.group(1)}+{spaced.group(2)}"
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise ReportParamError(param, msg("{param} must be a date (YYYY-MM-DD) or an RFC 3339 timestamp with an "
                                          "offset, not {text}", param=param, text=repr(text))) from None
    if instant.tzinfo is None:
        raise ReportParamError(param, msg("{param}: the timestamp {text} has no offset; add Z or ±HH:MM, or give "
                                          "a date", param=param, text=repr(text)))
    if not in_range(instant):
        raise ReportParamError(param, msg("{param}: {text} is outside the years 1900 to 8999", param=param,
                                          text=repr(text)))
    return instant.astimezone(timezone.utc)


def parse_list(text: str | Iterable[str] | None) -> tuple[str, ...]:
    """``a,b`` or repeated values → ``("a", "b")``, blanks dropped, order kept, no repeats."""
    if text is None:
        return ()
    parts = [text] if isinstance(text, str) else list(text)
    seen: dict[str, None] = {}
    for part in parts:
        for item in part.split(","):
            if item.strip():
                seen.setdefault(item.strip(), None)
    return tuple(seen)


def parse_group_by(text: str | Iterable[str] | None) -> tuple[str, ...]:
    keys = parse_list(text)
    unknown = [k for k in keys if k not in GROUP_KEYS]
    if unknown:
        raise ReportParamError("group_by", msg("group_by: unknown key {key}; choose from {keys}",
                                               key=repr(unknown[0]), keys=", ".join(GROUP_KEYS)))
    return keys


def parse_format(text: str | None, default: str = "json") -> ReportFormat:
    fmt = FORMATS.get((text or default).strip().lower())
    if fmt is None:
        raise ReportParamError("format", msg("format must be one of {formats}, not {text}",
                                             formats=", ".join(FORMATS), text=repr(text)))
    return fmt


def _comparable(bound: Bound) -> datetime:
    if isinstance(bound, datetime):
        return bound
    return datetime.combine(bound, time(), timezone.utc)


def report_query(start: str | None = None, end: str | None = None, site=None, standard=None, group_by=None,
                 today: date | None = None) -> ReportQuery:
    """Parse the raw parameters; raises :class:`ReportParamError` naming the first bad one."""
    today = today or datetime.now(timezone.utc).date()
    lower = parse_bound("from", start) if start else None
    upper = parse_bound("to", end) if end else None
    if upper is None:
        upper = today + timedelta(days=1)
    if lower is None:
        lower = upper - timedelta(days=DEFAULT_DAYS)
    # A date bound is a local midnight, which lies within ±14 h of UTC midnight; only refuse
    # what is reversed at every site.
    if isinstance(lower, datetime) == isinstance(upper, datetime):
        reversed_ = lower >= upper
    else:
        reversed_ = _comparable(lower) - timedelta(hours=14) >= _comparable(upper) + timedelta(hours=14)
    if reversed_:
        raise ReportParamError("to", msg("to ({end}) must be after from ({start})", end=format_bound(upper),
                                         start=format_bound(lower)))
    return ReportQuery(lower, upper, parse_list(site), parse_list(standard), parse_group_by(group_by))


def format_bound(bound: Bound) -> str:
    if isinstance(bound, datetime):
        return bound.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    return bound.isoformat()
