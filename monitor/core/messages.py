"""Text the core produces, as a message id with parameters, so the edges (pages, API, CLI,
reports) translate it into the reader's language and both languages carry the same numbers.

The id is the English sentence with ``{name}`` placeholders; ``pybabel extract`` finds every
``msg("…")`` call (babel.cfg names it as a keyword). ``str()`` is the English text.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Message:
    id: str
    params: dict[str, Any] = field(default_factory=dict)

    def __hash__(self) -> int:  # so equal suggestions collapse (dict.fromkeys); params are plain values
        return hash((self.id, tuple(sorted(self.params.items()))))

    def __str__(self) -> str:
        return self.id.format(**{k: str(v) for k, v in self.params.items()})


def msg(text: str, /, **params: Any) -> Message:
    return Message(text, params)
