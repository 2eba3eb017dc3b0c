"""Standards YAML → validated model (SPEC §3, §4.1), strictly, with every error at its place.

ruamel.yaml parses the text and keeps the line and column of every key, value and list item;
the tree is turned into plain Python data plus a table of those positions, marshmallow
validates the plain data (unknown keys raise, cross-field rules in ``@validates_schema``), and
each error path marshmallow reports is looked up in the position table, so a problem reads
``restaurant.yaml:14:13: standards[0].within: bad duration …``. A file with any problem is
refused whole.

Calendars are per file: a standard's ``calendar:`` must name a calendar defined in the *same*
file. That keeps each file checkable on its own (a ``PUT`` of one file cannot be broken by
another file changing), while event catalogues are merged across files as SPEC §3 says.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping
from zoneinfo import ZoneInfo, available_timezones

import holidays as holiday_data
from marshmallow import RAISE, ValidationError, fields, post_load, validates_schema
from ruamel.yaml import YAML
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent, NodeEvent
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.scalarbool import ScalarBoolean

from monitor.core.calendars import DAY_NAMES, Calendar, Window, parse_days, parse_window
from monitor.core.durations import parse_duration
from monitor.core.messages import Message, MessageError, as_message, msg
from monitor.core.standards import (
    GOAL_PERIODS,
    AppliesTo,
    EscalationStep,
    FeedbackSignal,
    Goal,
    StandardSet,
    Standard,
    StandardsFile,
    StartCandidate,
)
from monitor.validation import (
    MARSHMALLOW_WORDS, MISSING_FIELD, UNKNOWN_FIELD, Length, OneOf, Range, WordedSchema, word_field,
)

EVENT_TYPE = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
STANDARD_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
CALENDAR_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
TOP_LEVEL_KEYS = ("events", "calendars", "feedback", "standards")
#: Bounds on a file's shape, checked on the parser's events before anything is built. The shipped
#: files have a few hundred nodes and nest 6 deep; an alias bomb (7 levels of 10 aliases: 10 million
#: nodes from 400 bytes) or 900-deep nesting (a RecursionError in the composer) is refused at once.
MAX_NODES = 50_000
MAX_DEPTH = 64
#: Plain data only: an explicit tag is refused unless it names one of YAML's own plain types
#: (``!!python/object`` and friends, or a custom ``!tag``, would otherwise reach the constructor).
ALLOWED_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq",
                                                             "timestamp"))

PathKey = tuple[Any, ...]
Position = tuple[int, int]


# ---------------------------------------------------------------------------------------------
# Problems


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a file, at a 1-based line and column."""

    file: str
    line: int
    column: int
    #: a message id with parameters (monitor.core.messages), marshmallow's own sentences too
    words: Message = field(compare=False)

    @property
    def message(self) -> str:
        """In English."""
        return str(self.words)

    def __str__(self) -> str:
        return self.render(str)

    def render(self, translate: Callable[[Message | str], str]) -> str:
        """``FILE:LINE:COL: message`` with the message in a language; the prefix stays for tools."""
        return f"{self.file}:{self.line}:{self.column}: {translate(self.words)}"


class StandardsError(Exception):
    """A standards file (or set) was refused; ``problems`` says everything that is wrong."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems: list[Problem] = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


# ---------------------------------------------------------------------------------------------
# YAML with positions


@dataclass
class _Positions:
    """Where each path of the plain data was written; paths are tuples of keys and indexes."""

    values: dict[PathKey, Position] = field(default_factory=dict)
    keys: dict[PathKey, Position] = field(default_factory=dict)

    def locate(self, path: PathKey, *, key: bool = False) -> Position:
        """The best place for an error at ``path``: the key itself for unknown keys, else its
        value; a missing key falls back to the mapping that lacks it."""
        if key and path in self.keys:
            return self.keys[path]
        if path in self.values:
            return self.values[path]
        return self.locate(path[:-1]) if path else (1, 1)

    def real_path(self, path: PathKey) -> tuple[PathKey, bool]:
        """Drop the ``key``/``value`` markers marshmallow's Dict field puts after a mapping key
        (``{name: {"value": {...}}}``); the flag says the error is about the key itself."""
        real: PathKey = ()
        about_key = False
        for part in path:
            if part in ("key", "value") and real + (part,) not in self.values and real in self.values:
                about_key = part == "key"
                continue
            real += (part,)
        return real, about_key


class _Constructor(RoundTripConstructor):
    """Round-trip nodes (they carry .lc), but dates stay text: ruamel would raise a bare
    ValueError without a position for ``2026-13-01``; YamlDate parses them with one."""


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", RoundTripConstructor.construct_yaml_str)


def _check_shape(name: str, yaml: YAML, text: str) -> None:
    """Refuse a file too large once its aliases are expanded, too deep, or with a foreign tag.

    One pass over the parser's events (the parser is iterative, so depth costs nothing here):
    each collection's expanded size is summed as it closes and remembered by its anchor, so an
    alias costs what it stands for without anything being expanded.
    """
    sizes: dict[str, int] = {}
    stack: list[tuple[int, str | None]] = []  # (nodes so far, anchor) of each open collection
    total = 0

    def refuse(event: Any, message: Message) -> StandardsError:
        mark = event.start_mark
        return StandardsError([Problem(name, mark.line + 1, mark.column + 1, message)])

    for event in yaml.parse(text):
        if not isinstance(event, NodeEvent):
            if isinstance(event, CollectionEndEvent) and stack:
                size, anchor = stack.pop()
                if anchor:
                    sizes[anchor] = size
                if stack:
                    stack[-1] = (stack[-1][0] + size, stack[-1][1])
            continue
        tag = getattr(event, "tag", None)
        if tag is not None and str(tag) not in ALLOWED_TAGS:
            shown = str(tag).replace("tag:yaml.org,2002:", "!!")
            raise refuse(event, msg("tag {tag} is not allowed: standards files hold plain data", tag=shown))
        size = sizes.get(event.anchor, 1) if isinstance(event, AliasEvent) else 1
        total += size
        if total > MAX_NODES:
            raise refuse(event, msg("too many values: more than {max} once aliases are expanded", max=MAX_NODES))
        if isinstance(event, CollectionStartEvent):
            stack.append((1, event.anchor))
            if len(stack) > MAX_DEPTH:
                raise refuse(event, msg("nested more than {max} levels deep", max=MAX_DEPTH))
        elif stack:
            stack[-1] = (stack[-1][0] + size, stack[-1][1])


def _parse_yaml(name: str, text: str) -> tuple[Any, _Positions]:
    yaml = YAML(typ="rt")  # duplicate keys raise by default
    yaml.Constructor = _Constructor
    try:
        _check_shape(name, yaml, text)
        tree = yaml.load(text)
    except MarkedYAMLError as exc:
        raise StandardsError([_syntax_problem(name, exc)]) from exc
    except ReaderError as exc:
        line, column = _line_col(text, exc.position)
        raise StandardsError([Problem(name, line, column, msg("YAML syntax error: {what}", what=exc.reason))]) from exc
    except (YAMLError, ValueError) as exc:
        raise StandardsError([Problem(name, 1, 1, msg("YAML syntax error: {what}", what=str(exc)))]) from exc
    positions = _Positions(values={(): (1, 1)})
    return _plain(tree, (), positions), positions


def _syntax_problem(name: str, exc: MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    what = exc.problem or exc.context or "cannot parse"
    if what.startswith("but ") and exc.context:  # "but found another document" needs its first half
        what = f"{exc.context} {what}"
    duplicate = DUPLICATE_KEY.match(what)
    if duplicate:
        return Problem(name, line, column, msg('found duplicate key "{key}" with value "{value}" (original value: '
                                               '"{original}")', **duplicate.groupdict()))
    return Problem(name, line, column, msg("YAML syntax error: {what}", what=what))


#: ruamel's wording of a repeated key, taken apart so that it is said in the reader's language
DUPLICATE_KEY = re.compile(r'found duplicate key "(?P<key>.*)" with value "(?P<value>.*)" '
                           r'\(original value: "(?P<original>.*)"\)$', re.S)


def _line_col(text: str, offset: int) -> Position:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def _plain(node: Any, path: PathKey, positions: _Positions) -> Any:
    """ruamel's node types → dict/list/str/int/float/bool/date, recording positions as we go."""
    if isinstance(node, dict):
        result = {}
        lc = getattr(node, "lc", None)
        for raw_key, value in node.items():
            key = _scalar(raw_key)
            spot = lc.data.get(raw_key) if lc is not None else None
            if spot:  # keys brought in by a `<<:` merge have no place of their own
                positions.keys[path + (key,)] = (spot[0] + 1, spot[1] + 1)
                positions.values[path + (key,)] = (spot[2] + 1, spot[3] + 1)
            result[key] = _plain(value, path + (key,), positions)
        return result
    if isinstance(node, list):
        lc = getattr(node, "lc", None)
        for index in range(len(node)):
            spot = lc.data.get(index) if lc is not None else None
            if spot:
                positions.values[path + (index,)] = (spot[0] + 1, spot[1] + 1)
        return [_plain(item, path + (index,), positions) for index, item in enumerate(node)]
    return _scalar(node)


def _scalar(value: Any) -> Any:
    # ScalarBoolean subclasses int, not bool: without this an anchored `true` would fail the bool checks.
    if isinstance(value, ScalarBoolean):
        return bool(value)
    for plain in (bool, str, int, float):
        if isinstance(value, plain):
            return plain(value)
    return value


# ---------------------------------------------------------------------------------------------
# Fields: strict, because YAML guesses types and a guess must never pass silently


class Text(fields.String):
    """Non-blank text."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not text.strip():
            raise ValidationError(msg("must not be empty"))
        return text


class Name(Text):
    def __init__(self, pattern: re.Pattern[str], what: Message, **kwargs):
        super().__init__(**kwargs)
        self.pattern, self.what = pattern, what

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not self.pattern.fullmatch(text):
            raise ValidationError(msg("{what} {value} must match {pattern}", what=self.what, value=repr(text),
                                      pattern=self.pattern.pattern))
        return text


def EventType(**kwargs) -> Name:
    return Name(EVENT_TYPE, msg("event type"), **kwargs)


class Duration(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return parse_duration(value)
        except MessageError as exc:
            raise ValidationError(exc.message) from exc


class YamlDate(fields.Field):
    """A calendar date ``YYYY-MM-DD``, quoted or not (the parser leaves dates as text)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            try:
                return date.fromisoformat(value.strip())
            except ValueError as exc:
                raise ValidationError(msg("bad date {value}: {reason}", value=repr(value), reason=str(exc))) from exc
        raise ValidationError(msg("must be a date written YYYY-MM-DD, not {value}", value=repr(value)))


class Number(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValidationError(msg("must be a number, not {value}", value=repr(value)))
        return value


class StrictBool(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise ValidationError(msg("must be true or false, not {value}", value=repr(value)))
        return value


class ScalarValue(fields.Field):
    def __init__(self, **kwargs):
        super().__init__(allow_none=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, (str, int, float, bool)):
            raise ValidationError(msg("must be a single text, number or true/false, not {value}", value=repr(value)))
        return value


def _event_types(value: Any) -> tuple[str, ...]:
    """One event type or a non-empty list of them; errors keyed by list index."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise ValidationError(msg("must be an event type or a non-empty list of event types"))
    field_ = word_field(EventType(), LOADER_WORDS)  # on its own, outside a schema
    errors: dict[int, Any] = {}
    for index, item in enumerate(items):
        try:
            field_.deserialize(item)
        except ValidationError as exc:
            errors[index] = exc.messages
    if errors:
        raise ValidationError(errors if not isinstance(value, str) else errors[0])
    return tuple(items)


class EventTypes(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        return _event_types(value)


class Start(fields.Field):
    """``seated`` or ``{first_of: [{event, unless?}, …]}`` → (candidates, is_first_of)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            return (StartCandidate(EventType().deserialize(value)),), False
        if isinstance(value, dict):
            return tuple(FirstOfSchema().load(value)["first_of"]), True
        raise ValidationError(msg("must be an event type or {{first_of: [{{event: T, unless: U}}, …]}}"))


class Weekly(fields.Field):
    """``{mon-fri: "09:00-17:30", sat: ["09:00-12:00", …]}`` → weekday → sorted windows."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, dict):
            raise ValidationError(msg("must map day names or ranges (mon, mon-fri) to HH:MM-HH:MM windows"))
        weekly: dict[int, list[Window]] = {}
        errors: dict[Any, Any] = {}
        for key, windows in value.items():
            try:
                days = parse_days(key) if isinstance(key, str) else parse_days(repr(key))
            except MessageError as exc:
                errors[key] = {"key": [exc.message]}
                continue
            parsed = _windows(windows, errors, key)
            for day in days:
                weekly.setdefault(day, []).extend(parsed)
        if errors:
            raise ValidationError(errors)
        return _check_weekly(weekly)


def _windows(value: Any, errors: dict[Any, Any], key: Any) -> list[Window]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        errors[key] = [msg("must be a window HH:MM-HH:MM or a list of them")]
        return []
    parsed, item_errors = [], {}
    for index, item in enumerate(items):
        try:
            parsed.append(parse_window(item if isinstance(item, str) else repr(item)))
        except MessageError as exc:
            item_errors[index] = [exc.message]
    if item_errors:
        errors[key] = item_errors if not isinstance(value, str) else item_errors[0]
    return parsed


def _check_weekly(weekly: dict[int, list[Window]]) -> dict[int, tuple[Window, ...]]:
    result = {}
    for day, windows in sorted(weekly.items()):
        windows.sort()
        for (_, first_close), (second_open, _) in zip(windows, windows[1:]):
            # A window closing at 24:00 is stored as 00:00, which sorts before everything.
            if first_close.hour == first_close.minute == 0 or first_close > second_open:
                raise ValidationError(msg("windows overlap on {day}", day=DAY_NAMES[day]))
        result[day] = tuple(windows)
    if not result:
        raise ValidationError(msg("the calendar has no open window; give at least one day with a window"))
    return result


# ---------------------------------------------------------------------------------------------
# Schemas


#: marshmallow's sentences as a standards file's problems say them (after the path, in lower case)
LOADER_WORDS = {**MARSHMALLOW_WORDS,
                "Not a valid string.": msg("must be text"),
                "Not a valid list.": msg("must be a list"),
                "Not a valid mapping type.": msg("must be a mapping of key: value"),
                "Invalid input type.": msg("must be a mapping of key: value"),
                "Field may not be null.": msg("must not be empty (null)")}
NOT_EMPTY = Length(min=1, error=msg("must not be empty"))


class StrictSchema(WordedSchema):
    words = LOADER_WORDS

    class Meta:
        unknown = RAISE


class CandidateSchema(StrictSchema):
    event = EventType(required=True)
    unless = EventType()

    @validates_schema
    def _unless_differs(self, data, **kwargs):
        if data.get("unless") == data["event"]:
            raise ValidationError(msg("unless must name another event type than event"), "unless")

    @post_load
    def _make(self, data, **kwargs) -> StartCandidate:
        return StartCandidate(**data)


class FirstOfSchema(StrictSchema):
    first_of = fields.List(fields.Nested(CandidateSchema), required=True, validate=NOT_EMPTY)


class EscalationSchema(StrictSchema):
    after = Duration(required=True)
    to = Text(required=True)
    even_if_acknowledged = StrictBool()

    @post_load
    def _make(self, data, **kwargs) -> EscalationStep:
        return EscalationStep(**data)


class GoalSchema(StrictSchema):
    ratio = Number(required=True, validate=Range(0, 1, error=msg("must be between {min} and {max}")))
    per = Text(required=True, validate=OneOf(GOAL_PERIODS, error=msg("must be one of {choices}")))

    @post_load
    def _make(self, data, **kwargs) -> Goal:
        return Goal(ratio=float(data["ratio"]), per=data["per"])


class AppliesToSchema(StrictSchema):
    sites = fields.List(Text(), validate=NOT_EMPTY)
    where = fields.Dict(keys=Text(), values=ScalarValue(), validate=NOT_EMPTY)

    @post_load
    def _make(self, data, **kwargs) -> AppliesTo:
        return AppliesTo(sites=tuple(data.get("sites", ())), where=dict(data.get("where", {})))


class StandardSchema(StrictSchema):
    id = Name(STANDARD_ID, msg("standard id"), required=True)
    name = Text(required=True)
    description = Text(required=True)
    customer_need = Text()
    owner = Text()
    start = Start(required=True)
    stop = EventTypes(required=True)
    within = Duration()
    deadline_attr = Text()
    warn_after = Duration()
    cancel_on = fields.List(EventType())
    pause_on = fields.List(EventType(), validate=NOT_EMPTY)
    resume_on = fields.List(EventType(), validate=NOT_EMPTY)
    escalate = fields.List(fields.Nested(EscalationSchema))
    repeat = Text(validate=OneOf(["each"], error=msg("must be {choices}")))
    correlate = Text()
    applies_to = fields.Nested(AppliesToSchema)
    calendar = Text()
    goal = fields.Nested(GoalSchema, required=True)
    effective = YamlDate()
    review_by = YamlDate()

    # Runs even when single fields failed, so one pass reports everything; hence it reads the
    # original data for "is the key there" and the loaded data only for values that parsed.
    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _cross_field(self, data, original_data, **kwargs):
        if not isinstance(original_data, dict):
            return
        errors: dict[str, list[Message]] = {}
        for key, message in _cross_field_problems(data, original_data):
            errors.setdefault(key, []).append(message)
        if errors:
            raise ValidationError(errors)


def _cross_field_problems(data: dict, given: dict) -> Iterable[tuple[str, Message]]:
    if "within" not in given and "deadline_attr" not in given:
        yield "within", msg("within is required unless deadline_attr is given")
    if "warn_after" in data and "within" in data and data["warn_after"] >= data["within"]:
        yield "warn_after", msg("warn_after must be shorter than within")
    for first, second in (("pause_on", "resume_on"), ("repeat", "correlate")):
        if (first in given) != (second in given):
            present, absent = (first, second) if first in given else (second, first)
            yield present, msg("{present} needs {absent} too: give both or neither", present=present, absent=absent)
    if "effective" in data and "review_by" in data and data["review_by"] < data["effective"]:
        yield "review_by", msg("review_by must not be before effective")


# Validators raise a list: marshmallow's And (a field's validators) extends its errors with it.
def _known_country(code: str) -> None:
    if code not in _supported_countries():
        raise ValidationError([msg("unknown holiday country {code}: use a code the holidays package knows, e.g. CN, HK, US",
                                   code=repr(code))])


def _known_zone(name: str) -> None:
    if name not in _zones():
        raise ValidationError([msg("unknown timezone {name}: use an IANA name such as Asia/Shanghai", name=repr(name))])


class HolidaysSchema(StrictSchema):
    country = Text(validate=_known_country)
    dates = fields.List(YamlDate())

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _country_or_dates(self, data, original_data, **kwargs):
        if isinstance(original_data, dict) and not original_data:
            raise ValidationError(msg("give country and/or dates"))


class CalendarSchema(StrictSchema):
    timezone = Text(required=True, validate=_known_zone)
    weekly = Weekly(required=True)
    holidays = fields.Nested(HolidaysSchema)


class FeedbackSchema(StrictSchema):
    event = EventType(required=True)
    score_attr = Text()
    good_at_least = Number()

    @validates_schema
    def _scored(self, data, **kwargs):
        if ("score_attr" in data) != ("good_at_least" in data):
            raise ValidationError(msg("score_attr and good_at_least go together: give both or neither"),
                                  "score_attr" if "score_attr" in data else "good_at_least")

    @post_load
    def _make(self, data, **kwargs) -> FeedbackSignal:
        return FeedbackSignal(**data)


class FileSchema(StrictSchema):
    events = fields.Dict(keys=EventType(), values=Text(), required=True)
    calendars = fields.Dict(keys=Name(CALENDAR_NAME, msg("calendar name")), values=fields.Nested(CalendarSchema))
    feedback = fields.List(fields.Nested(FeedbackSchema))
    standards = fields.List(fields.Nested(StandardSchema), required=True)


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


@lru_cache(maxsize=1)
def _supported_countries() -> frozenset[str]:
    return frozenset(holiday_data.list_supported_countries())


# ---------------------------------------------------------------------------------------------
# Errors → problems


def _flatten(messages: Any, path: PathKey = ()) -> Iterable[tuple[PathKey, Message]]:
    if isinstance(messages, dict):
        for key, inner in messages.items():
            yield from _flatten(inner, path if key == "_schema" else path + (key,))
    elif isinstance(messages, list):
        for message in messages:
            yield from _flatten(message, path)
    else:
        yield path, as_message(messages)


def _problems(name: str, messages: Any, positions: _Positions) -> list[Problem]:
    return [_problem(name, path, message, positions) for path, message in _flatten(messages)]


def _problem(name: str, path: PathKey, message: Message, positions: _Positions) -> Problem:
    path, about_key = positions.real_path(path)
    if message == UNKNOWN_FIELD:
        line, column = positions.locate(path, key=True)
        return Problem(name, line, column, msg("{path}: unknown key {key}", path=_where(path[:-1]), key=repr(path[-1])))
    if message == MISSING_FIELD:
        line, column = positions.locate(path)
        return Problem(name, line, column,
                       msg("{path}: missing required key {key}", path=_where(path[:-1]), key=repr(path[-1])))
    line, column = positions.locate(path, key=about_key)
    return Problem(name, line, column, msg("{path}: {message}", path=_dotted(path), message=message) if path else message)


def _where(path: Iterable[Any]) -> Message | str:
    return _dotted(path) or msg("top level")


def _dotted(path: Iterable[Any]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


# ---------------------------------------------------------------------------------------------
# Building the model


def _cross_item_problems(name: str, data: Any, positions: _Positions) -> list[Problem]:
    """Duplicate ids and undefined calendars, checked on the raw data so that they are found
    even when other parts of the file have errors too."""
    if not isinstance(data, dict) or not isinstance(data.get("standards"), list):
        return []
    calendars = data.get("calendars") if isinstance(data.get("calendars"), dict) else {}
    problems, seen = [], {}
    for index, item in enumerate(data["standards"]):
        if not isinstance(item, dict):
            continue
        standard_id, calendar = item.get("id"), item.get("calendar")
        if isinstance(standard_id, str) and standard_id in seen:
            line, column = positions.locate(("standards", index, "id"))
            first = positions.locate(("standards", seen[standard_id], "id"))
            problems.append(Problem(name, line, column, msg(
                "standards[{index}].id: duplicate standard id {id} (first at line {line})",
                index=index, id=repr(standard_id), line=first[0])))
        elif isinstance(standard_id, str):
            seen[standard_id] = index
        if isinstance(calendar, str) and calendar not in calendars:
            line, column = positions.locate(("standards", index, "calendar"))
            known = ", ".join(sorted(map(str, calendars))) or msg("none")
            problems.append(Problem(name, line, column, msg(
                "standards[{index}].calendar: undefined calendar {calendar} (defined in this file: {known})",
                index=index, calendar=repr(calendar), known=known)))
    return problems


def _build_calendar(name: str, data: dict) -> Calendar:
    holidays = data.get("holidays", {})
    return Calendar(
        name=name,
        timezone=ZoneInfo(data["timezone"]),
        weekly=data["weekly"],
        holiday_country=holidays.get("country"),
        holiday_dates=frozenset(holidays.get("dates", ())),
    )


def _build_standard(data: dict, calendars: Mapping[str, Calendar], name: str, version: int) -> Standard:
    start, first_of = data.pop("start")
    calendar = data.pop("calendar", None)
    return Standard(
        **{key: tuple(value) if isinstance(value, list) else value for key, value in data.items()},
        start=start,
        start_is_first_of=first_of,
        calendar=calendars[calendar] if calendar else None,
        file=name,
        version=version,
    )


def _load(name: str, text: str, version: int) -> tuple[StandardsFile, _Positions]:
    data, positions = _parse_yaml(name, text)
    if not isinstance(data, dict):
        what = msg("the file is empty: it needs the keys events and standards") if data is None else \
            msg("the file is not a mapping: it needs the keys events and standards")
        raise StandardsError([Problem(name, 1, 1, what)])
    problems = _cross_item_problems(name, data, positions)
    try:
        loaded = FileSchema().load(data)
    except ValidationError as exc:
        raise StandardsError(problems + _problems(name, exc.messages, positions)) from exc
    if problems:
        raise StandardsError(problems)
    calendars = {key: _build_calendar(key, value) for key, value in loaded.get("calendars", {}).items()}
    standards = tuple(_build_standard(item, calendars, name, version) for item in loaded["standards"])
    standards_file = StandardsFile(
        name=name,
        version=version,
        events=dict(loaded["events"]),
        calendars=calendars,
        feedback=tuple(loaded.get("feedback", ())),
        standards=standards,
    )
    return standards_file, positions


# ---------------------------------------------------------------------------------------------
# Public API


def load_file_text(name: str, text: str, version: int = 1) -> StandardsFile:
    """Validate one file on its own (for ``PUT`` and reload); raise StandardsError if anything is wrong."""
    return _load(name, text, version)[0]


def load_set(texts: Mapping[str, tuple[str, int]]) -> StandardSet:
    """Validate all files together (name → (text, version)), in name order.

    Besides each file's own rules, standard ids must be unique across files; a duplicate is
    reported at the second occurrence (in name order). Calendars are looked up in the standard's
    own file only (see the module docstring). Problems of every file are collected before
    StandardsError is raised.
    """
    problems: list[Problem] = []
    files: list[StandardsFile] = []
    first_seen: dict[str, tuple[str, Position]] = {}
    for name in sorted(texts):
        text, version = texts[name]
        try:
            loaded, positions = _load(name, text, version)
        except StandardsError as exc:
            problems.extend(exc.problems)
            continue
        files.append(loaded)
        problems.extend(_duplicates_across(loaded, positions, first_seen))
    if problems:
        raise StandardsError(problems)
    return StandardSet(files=tuple(files))


def _duplicates_across(
    loaded: StandardsFile, positions: _Positions, first_seen: dict[str, tuple[str, Position]]
) -> list[Problem]:
    problems = []
    for index, standard in enumerate(loaded.standards):
        here = positions.locate(("standards", index, "id"))
        if standard.id in first_seen:
            other, (line, _) = first_seen[standard.id]
            problems.append(Problem(loaded.name, *here, msg(
                "standards[{index}].id: duplicate standard id {id}, already in {other}:{line}",
                index=index, id=repr(standard.id), other=other, line=line)))
        else:
            first_seen[standard.id] = (loaded.name, here)
    return problems


def read_text(path: Path, name: str) -> str:
    """A file's text as UTF-8, or StandardsError naming it (so lint and startup report alike)."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise StandardsError([Problem(name, 1, 1, msg("not UTF-8 text ({reason} at byte {byte})",
                                                      reason=exc.reason, byte=exc.start))]) from exc
    except OSError as exc:
        raise StandardsError([Problem(name, 1, 1, msg("cannot read: {reason}", reason=exc.strerror))]) from exc


def load_directory(path: str | Path) -> StandardSet:
    """Every ``*.yaml`` directly in ``path`` as version 1, named by file name."""
    if not Path(path).is_dir():
        raise StandardsError([Problem(str(path), 1, 1, msg("no such directory"))])
    texts, problems = {}, []
    for file_path in sorted(Path(path).glob("*.yaml")):
        try:
            texts[file_path.name] = (read_text(file_path, file_path.name), 1)
        except StandardsError as exc:
            problems.extend(exc.problems)
    try:
        result = load_set(texts)
    except StandardsError as exc:
        problems.extend(exc.problems)
    if problems:
        raise StandardsError(problems)
    return result
