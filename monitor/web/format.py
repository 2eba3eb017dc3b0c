"""Plain words for the pages: times in the site's zone, durations as people say them, rules as sentences."""
from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Mapping
from urllib.parse import quote

from babel.dates import format_datetime, format_time
from flask_babel import get_locale
from werkzeug.routing import PathConverter

from monitor.core.standards import Standard
from monitor.i18n import duration_words

#: Board order: what needs someone now comes first.
KIND_RANK = {"escalation": 0, "breach": 1, "warning": 2}


def case_path(case: str) -> str:
    """A case id as the path after ``/cases/``, every segment percent-encoded.

    Ids may contain ``/`` (``table-12/2026-11-24T18:02``) and are kept readable as segments; but an
    id with an empty, ``.`` or ``..`` segment (``../../logout``, ``/x``) is encoded whole, ``/`` as
    ``%2F``, because browsers resolve dot segments and servers merge slashes before the page sees
    them. board.js's caseHref does the same.
    """
    segments = case.split("/")
    if any(s in ("", ".", "..") for s in segments):
        return quote(case, safe="")
    return "/".join(quote(s, safe=":@") for s in segments)


class CaseConverter(PathConverter):
    """``<case:case>``: like ``<path:…>`` but an id may also start with ``/`` (rules using it set
    ``merge_slashes=False``, so ``/cases/%2Fx`` is case ``/x`` rather than a redirect to ``x``)."""

    regex = ".+?"
    part_isolating = False  # werkzeug would infer True from a regex without "/"


def parse_time(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def clock_time(value: str | datetime | None, zone: tzinfo) -> str:
    """``6:02:15 PM`` / ``18:02:15``: enough on a page about one visit, in the reader's language."""
    moment = parse_time(value)
    return format_time(moment, "medium", tzinfo=zone, locale=get_locale()) if moment else "—"


def day_time(value: str | datetime | None, zone: tzinfo) -> str:
    """``Nov 24, 2026, 6:02:15 PM`` / ``2026年11月24日 18:02:15``."""
    moment = parse_time(value)
    return format_datetime(moment, "medium", tzinfo=zone, locale=get_locale()) if moment else "—"


def percent(ratio: float | None) -> str:
    if ratio is None:
        return "—"
    text = f"{ratio * 100:.1f}".rstrip("0").rstrip(".")
    return f"{text} %"


def _event(name: str, catalogue: Mapping[str, str]) -> str:
    meaning = catalogue.get(name)
    return f"‘{name}’ ({meaning[0].lower() + meaning[1:]})" if meaning else f"‘{name}’ (not in any event catalogue)"


def _either(names: tuple[str, ...] | list[str], catalogue: Mapping[str, str]) -> str:
    described = [_event(n, catalogue) for n in names]
    return described[0] if len(described) == 1 else "the first of " + ", ".join(described[:-1]) + " or " + described[-1]


def rule_in_words(standard: Standard, catalogue: Mapping[str, str]) -> list[str]:
    """The standard as sentences a floor manager or an auditor reads without knowing the YAML."""
    lines = []
    if len(standard.start) == 1 and not standard.start[0].unless:
        lines.append(f"The clock starts at the first {_event(standard.start[0].event, catalogue)} of the case.")
    else:
        options = []
        for candidate in standard.start:
            text = _event(candidate.event, catalogue)
            if candidate.unless:
                text += f" when there is no ‘{candidate.unless}’"
            options.append(text)
        lines.append("The clock starts at the first of these that applies, tried in order: " + "; else ".join(options) + ".")
    if standard.repeat == "each":
        lines.append(f"Every start event gets its own clock, matched to its stop by the attribute ‘{standard.correlate}’.")
    lines.append(f"It stops at {_either(standard.stop, catalogue)}.")
    target = []
    if standard.deadline_attr:
        target.append(f"by the deadline written in the start event's ‘{standard.deadline_attr}’ attribute")
    if standard.within:
        target.append(("otherwise " if target else "") + f"within {duration_words(standard.within)}")
    sentence = "The promise: stop " + ", ".join(target)
    if standard.calendar:
        sentence += f", counting only the open hours of calendar ‘{standard.calendar.name}’"
    lines.append(sentence + ".")
    if standard.warn_after:
        lines.append(f"A warning goes to the floor after {duration_words(standard.warn_after)}.")
    for step in standard.escalate:
        unless = "" if step.even_if_acknowledged else " (skipped once the breach is acknowledged)"
        lines.append(f"Still open {duration_words(step.after)} past the deadline, it escalates to {step.to}{unless}.")
    if standard.cancel_on:
        cancel = _either(standard.cancel_on, catalogue)
        lines.append(f"{cancel[0].upper()}{cancel[1:]} voids the clock.")
    if standard.pause_on:
        lines.append(f"The clock pauses at {_either(standard.pause_on, catalogue)} and resumes at "
                     f"{_either(standard.resume_on, catalogue)}; the deadline moves out by the pause.")
    if standard.applies_to.sites or standard.applies_to.where:
        scope = []
        if standard.applies_to.sites:
            scope.append("sites " + ", ".join(standard.applies_to.sites))
        if standard.applies_to.where:
            scope.append("start events with " + ", ".join(f"{k} = {v!r}" for k, v in standard.applies_to.where.items()))
        lines.append("It applies only to " + " and ".join(scope) + ".")
    lines.append(f"Goal: {percent(standard.goal.ratio)} of clocks met, judged per {standard.goal.per}.")
    return lines
