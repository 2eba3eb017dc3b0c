"""An event as the core sees it: already validated, with an aware ``at``."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Mapping, Union

Scalar = Union[str, int, float, bool, None]


@dataclass(frozen=True)
class Event:
    id: str
    case: str
    type: str
    at: datetime
    site: str = "default"
    staff: str | None = None
    attrs: Mapping[str, Scalar] = field(default_factory=dict)

    def sort_key(self) -> tuple[datetime, str, str]:
        """Event time first, then id and site, so equal timestamps still order the same way every time."""
        return (self.at, self.id, self.site)
