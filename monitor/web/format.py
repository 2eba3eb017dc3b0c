"""Plain words for the pages: times in the site's zone, durations as people say them, rules as sentences."""
from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Any, Mapping
from urllib.parse import quote

from babel.dates import format_datetime, format_time
from babel.numbers import format_percent
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from werkzeug.routing import PathConverter

from monitor.core.standards import Standard
from monitor.registry import FILE_AUTHOR
from monitor.i18n import duration_words, period_word

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


#: start-event attributes that name the place or ticket a person knows a case by, in order of preference,
#: with the words around the value (a place's name stands alone)
LABEL_ATTRS = (("table", _l("Table %(value)s")), ("ticket", _l("Ticket %(value)s")), ("place", None),
               ("ticket_number", _l("Ticket %(value)s")))
LABEL_MAX = 24


def case_label(case: str, attrs: Mapping[str, Any] | None) -> str:
    """What the floor calls a case: ``Table 8``/``8号桌``, ``Ticket A017``, else the case id shortened.

    Case ids carry a time after ``/`` that nobody on the floor reads — UTC from the simulator
    (``table-8/2026-12-01T10:02:07``), site-local from the tablet (``T1/2026-12-01T18:02:07``); the
    part before it is the name, cut to a board-friendly length.
    """
    for name, words in LABEL_ATTRS:
        value = (attrs or {}).get(name)
        if value not in (None, ""):
            return words % {"value": value} if words else str(value)
    head = case.split("/", 1)[0] or case
    return head if len(head) <= LABEL_MAX else head[:LABEL_MAX - 1] + "…"


def author_word(author: str) -> str:
    """Who saved a version: a user's name, or the standards directory for a version read from its file."""
    return gettext("the standards directory") if author == FILE_AUTHOR else author


def local_hm(value: str | datetime | None, zone: tzinfo) -> str:
    """``18:02`` in the site's zone."""
    moment = parse_time(value)
    return moment.astimezone(zone).strftime("%H:%M") if moment else ""


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
    """``95%``, ``92.5%`` in the page's locale."""
    return "—" if ratio is None else format_percent(ratio, "#,##0.#%", locale=get_locale())


def _event(name: str, catalogue: Mapping[str, str]) -> str:
    meaning = catalogue.get(name)
    if not meaning:
        return gettext("‘%(name)s’ (not in any event catalogue)", name=name)
    # an English meaning reads on after "(" in lower case; other scripts have no case
    return gettext("‘%(name)s’ (%(meaning)s)", name=name, meaning=meaning[0].lower() + meaning[1:])


def _either(names: tuple[str, ...] | list[str], catalogue: Mapping[str, str]) -> str:
    described = [_event(n, catalogue) for n in names]
    if len(described) == 1:
        return described[0]
    return gettext("the first of %(some)s or %(last)s", some=gettext(", ").join(described[:-1]), last=described[-1])


def rule_in_words(standard: Standard, catalogue: Mapping[str, str]) -> list[str]:
    """The standard as sentences a floor manager or an auditor reads without knowing the YAML, in the page's language."""
    lines = []
    if len(standard.start) == 1 and not standard.start[0].unless:
        lines.append(gettext("The clock starts at the first %(event)s of the case.",
                             event=_event(standard.start[0].event, catalogue)))
    else:
        options = []
        for candidate in standard.start:
            text = _event(candidate.event, catalogue)
            if candidate.unless:
                text = gettext("%(event)s when there is no ‘%(unless)s’", event=text, unless=candidate.unless)
            options.append(text)
        lines.append(gettext("The clock starts at the first of these that applies, tried in order: %(options)s.",
                             options=gettext("; else ").join(options)))
    if standard.repeat == "each":
        lines.append(gettext("Every start event gets its own clock, matched to its stop by the attribute "
                             "‘%(attr)s’.", attr=standard.correlate))
    lines.append(gettext("It stops at %(events)s.", events=_either(standard.stop, catalogue)))
    within = duration_words(standard.within) if standard.within else None
    if standard.deadline_attr and within:
        promise = gettext("The promise: stop by the deadline written in the start event's ‘%(attr)s’ attribute, "
                          "otherwise within %(duration)s", attr=standard.deadline_attr, duration=within)
    elif standard.deadline_attr:
        promise = gettext("The promise: stop by the deadline written in the start event's ‘%(attr)s’ attribute",
                          attr=standard.deadline_attr)
    else:
        promise = gettext("The promise: stop within %(duration)s", duration=within)
    if standard.calendar:
        promise = gettext("%(promise)s, counting only the open hours of calendar ‘%(calendar)s’", promise=promise,
                          calendar=standard.calendar.name)
    lines.append(gettext("%(sentence)s.", sentence=promise))
    if standard.warn_after:
        lines.append(gettext("A warning goes to the floor after %(duration)s.",
                             duration=duration_words(standard.warn_after)))
    for step in standard.escalate:
        if step.even_if_acknowledged:
            lines.append(gettext("Still open %(duration)s past the deadline, it escalates to %(role)s.",
                                 duration=duration_words(step.after), role=step.to))
        else:
            lines.append(gettext("Still open %(duration)s past the deadline, it escalates to %(role)s (skipped once "
                                 "the breach is acknowledged).", duration=duration_words(step.after), role=step.to))
    if standard.cancel_on:
        cancel = _either(standard.cancel_on, catalogue)
        lines.append(gettext("%(events)s voids the clock.", events=cancel[0].upper() + cancel[1:]))
    if standard.pause_on:
        lines.append(gettext("The clock pauses at %(pause)s and resumes at %(resume)s; the deadline moves out by "
                             "the pause.", pause=_either(standard.pause_on, catalogue),
                             resume=_either(standard.resume_on, catalogue)))
    if standard.applies_to.sites or standard.applies_to.where:
        scope = []
        if standard.applies_to.sites:
            scope.append(gettext("sites %(sites)s", sites=", ".join(standard.applies_to.sites)))
        if standard.applies_to.where:
            scope.append(gettext("start events with %(conditions)s",
                                 conditions=", ".join(f"{k} = {v!r}" for k, v in standard.applies_to.where.items())))
        lines.append(gettext("It applies only to %(scope)s.", scope=gettext(" and ").join(scope)))
    lines.append(gettext("Goal: %(share)s of clocks met, judged per %(period)s.", share=percent(standard.goal.ratio),
                         period=period_word(standard.goal.per)))
    return lines
