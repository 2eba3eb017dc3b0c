"""marshmallow's own error sentences as message ids (SPEC §6.1), in one place for every schema.

marshmallow words its errors in English. A :class:`WordedSchema` swaps the defaults of its own
and its fields' error keys ("required", "invalid", "unknown", …) for these message ids, so the
edges translate them like every other message. The English ids are marshmallow's sentences
themselves: what a device is told, and what a dead letter stores, reads as it did. The
validators below take a message id as their ``error=`` (marshmallow fills in its parameters).
"""
from __future__ import annotations

from typing import Any, Mapping

from marshmallow import Schema, fields, validate

from monitor.core.messages import Message, msg

#: marshmallow's default sentence → its message id (the ones without parameters its fields fill in)
MARSHMALLOW_WORDS: Mapping[str, Message] = {m.id: m for m in (
    msg("Missing data for required field."), msg("Field may not be null."), msg("Invalid value."),
    msg("Unknown field."), msg("Invalid input type."), msg("Invalid type."),
    msg("Not a valid string."), msg("Not a valid utf-8 string."), msg("Not a valid list."),
    msg("Not a valid mapping type."), msg("Not a valid number."), msg("Number too large."),
    msg("Not a valid integer."), msg("Not a valid boolean."))}
UNKNOWN_FIELD = MARSHMALLOW_WORDS["Unknown field."]
MISSING_FIELD = MARSHMALLOW_WORDS["Missing data for required field."]


def _worded(messages: Mapping[str, Any], words: Mapping[str, Message]) -> dict[str, Any]:
    return {key: words.get(text, text) if isinstance(text, str) else text for key, text in messages.items()}


def word_field(field: fields.Field, words: Mapping[str, Message] = MARSHMALLOW_WORDS) -> fields.Field:
    """``field`` (and the fields inside a List, Tuple or Dict) with message ids for marshmallow's
    sentences; a field used on its own, outside a schema, is worded with this."""
    field.error_messages = _worded(field.error_messages, words)
    inner = (getattr(field, "inner", None), getattr(field, "key_field", None), getattr(field, "value_field", None),
             *getattr(field, "tuple_fields", ()))
    for part in inner:
        if part is not None:
            word_field(part, words)
    return field


class WordedSchema(Schema):
    """A schema whose own errors and whose fields' errors are message ids (nested schemas that
    are WordedSchemas word themselves). ``words`` may reword some of marshmallow's sentences."""

    words: Mapping[str, Message] = MARSHMALLOW_WORDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.error_messages = _worded(self.error_messages, self.words)

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        word_field(field_obj, self.words)


class _Listed:
    """A validator whose ``error=`` may be a Message: marshmallow's ``And`` (every field's
    validators) extends its errors with the one raised, which must be a list unless it is a str."""

    def _format_error(self, *args: Any) -> list[Any]:
        return [super()._format_error(*args)]  # type: ignore[misc]


class OneOf(_Listed, validate.OneOf):
    pass


class Range(_Listed, validate.Range):
    pass


class Length(_Listed, validate.Length):
    pass


class Regexp(_Listed, validate.Regexp):
    pass
