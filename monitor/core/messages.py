"""Text the core produces, as a message id with parameters, so the edges (pages, API, CLI,
reports) translate it into the reader's language and both languages carry the same numbers.

The id is the English sentence with ``{name}`` placeholders; ``pybabel extract`` finds every
``msg("…")`` call (babel.cfg names it as a keyword). ``str()`` is the English text.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from string import Formatter
from typing import Any


@dataclass(frozen=True)
class Message:
    id: str
    params: dict[str, Any] = field(default_factory=dict)

    def __hash__(self) -> int:  # so equal suggestions collapse (dict.fromkeys); params are plain values
        return hash((self.id, tuple(sorted(self.params.items()))))

    def __str__(self) -> str:
        return self.id.format(**{k: str(v) for k, v in self.params.items()})

    def format(self, **params: Any) -> Message:
        """The message with the parameters its id names filled in, like ``str.format``: so a
        Message stands where a library formats its own error text (marshmallow's validators)."""
        named = {name for _, name, _, _ in Formatter().parse(self.id) if name}
        return Message(self.id, {**self.params, **{k: v for k, v in params.items() if k in named}})

    def to_json(self) -> dict[str, Any]:
        """``{"id", "params"}``, parameters that are Messages nested alike (stored next to a text)."""
        return {"id": self.id, "params": {k: v.to_json() if isinstance(v, Message) else v
                                          for k, v in self.params.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Message:
        return cls(data["id"], {k: cls.from_json(v) if isinstance(v, dict) else v
                                for k, v in data.get("params", {}).items()})


def msg(text: str, /, **params: Any) -> Message:
    return Message(text, params)


def as_message(value: Message | str) -> Message:
    """A Message as it is; a text (a library's, or a caller's that has no id) kept as written."""
    return value if isinstance(value, Message) else Message("{text}", {"text": str(value)})


class MessageError(ValueError):
    """A ValueError worded as a Message (``str()`` is the English), for callers that translate it."""

    def __init__(self, message: Message) -> None:
        super().__init__(str(message))
        self.message = message
