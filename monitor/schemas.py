"""Wire formats validated with marshmallow: the event of SPEC §1 and the device status of §2."""
from __future__ import annotations

import re
from datetime import datetime
from functools import reduce
from typing import Any

from marshmallow import EXCLUDE, RAISE, ValidationError, fields

from monitor.core.clocks import in_range
from monitor.core.messages import Message, as_message, msg
from monitor.validation import OneOf, Regexp, WordedSchema

TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class Timestamp(fields.Field):
    """RFC 3339 with an offset; a naive time would be read in the wrong zone, so it is refused."""

    default_error_messages = {
        "invalid": msg("not an RFC 3339 timestamp with offset, e.g. 2026-11-24T18:02:00+08:00"),
        "naive": msg("has no UTC offset; add Z or +HH:MM"),
        "range": msg("is outside the years 1900 to 8999"),
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str) or not 10 <= len(value) <= 40:
            raise self.make_error("invalid")
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise self.make_error("invalid") from None
        if parsed.tzinfo is None or "T" not in value.upper() and " " not in value:
            raise self.make_error("naive" if parsed.tzinfo is None else "invalid")
        if not in_range(parsed):
            raise self.make_error("range")
        return parsed


def _text_problem(value: str) -> Message | None:
    """What makes a string unstorable: a NUL (PostgreSQL refuses it) or a lone surrogate."""
    if "\x00" in value:
        return msg("contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return msg("contains a lone UTF-16 surrogate")
    return None


def _storable(value: str) -> None:
    problem = _text_problem(value)
    if problem:
        raise ValidationError(problem)


def _scalar_attrs(value: dict[str, Any]) -> None:
    # a list: marshmallow's And (a field's validators) extends its errors with what is raised
    for name, item in value.items():
        if not isinstance(name, str) or not 1 <= len(name) <= 64 or _text_problem(name):
            raise ValidationError([msg("attribute name {name} must be 1–64 printable characters", name=repr(name))])
        if item is not None and not isinstance(item, (str, int, float, bool)):
            raise ValidationError([msg("attrs.{name} must be a string, number, true/false or null", name=name)])
        problem = _text_problem(item) if isinstance(item, str) else None
        if problem:
            raise ValidationError([msg("attrs.{name} {problem}", name=name, problem=problem)])


class Text(fields.String):
    """A storable string of ``low``–``high`` characters, checked in one step (this is the hot path)."""

    def __init__(self, low: int, high: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.low, self.high = low, high

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not self.low <= len(text) <= self.high:
            raise ValidationError(msg("Length must be between {min} and {max}.", min=self.low, max=self.high))
        _storable(text)
        return text


class EventSchema(WordedSchema):
    class Meta:
        unknown = RAISE

    id = Text(1, 128, required=True)
    case = Text(1, 200, required=True)
    type = fields.String(required=True, validate=Regexp(TYPE_PATTERN, error=msg("must match [a-z][a-z0-9_.-]{{0,63}}")))
    at = Timestamp(required=True)
    site = fields.String(validate=Regexp(NAME_PATTERN, error=msg("must match [A-Za-z0-9_-]{{1,64}}")))
    staff = Text(1, 200, allow_none=True)
    attrs = fields.Dict(validate=_scalar_attrs, load_default=dict)  # _scalar_attrs checks the names


class StatusSchema(WordedSchema):
    class Meta:
        unknown = EXCLUDE

    state = fields.String(required=True, validate=OneOf(["online", "offline"], error=msg("Must be one of: {choices}.")))
    at = Timestamp(load_default=None)


EVENT_SCHEMA = EventSchema()
STATUS_SCHEMA = StatusSchema()


def one_line(messages: Any) -> Message:
    """Flatten marshmallow's nested error dict into one line, ``field: what; other: what`` (callers
    escape its text with clean_reason)."""
    return reduce(lambda first, second: msg("{first}; {second}", first=first, second=second), _errors(messages))


def _errors(messages: Any, prefix: str = "") -> list[Message]:
    if isinstance(messages, dict):
        return [error for key, value in messages.items()
                for error in _errors(value, f"{prefix}{key}." if not str(key).isdigit() else prefix)]
    if isinstance(messages, list):
        return [error for item in messages for error in _errors(item, prefix)]
    error = as_message(messages)
    return [msg("{path}: {message}", path=prefix.rstrip("."), message=error) if prefix else error]


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # every character splitlines() breaks on


def clean_reason(text: str, limit: int = 1000) -> str:
    """One storable line: control characters and lone surrogates escaped, length capped."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    text = _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
    return text if len(text) <= limit else text[:limit - 1] + "…"
