"""The standards model: what a validated standards file means, as plain frozen data.

The loader (monitor/loader.py) builds these from YAML; the clock engine and the SMART checks read
them. Nothing here knows about files on disk or the database.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Mapping

from monitor.core.calendars import Calendar
from monitor.core.events import Event, Scalar

GOAL_PERIODS = ("day", "week", "month")


@dataclass(frozen=True)
class StartCandidate:
    """One way a clock can start: ``event`` exists in the case and ``unless`` does not."""

    event: str
    unless: str | None = None


@dataclass(frozen=True)
class EscalationStep:
    after: timedelta
    to: str
    even_if_acknowledged: bool = False


@dataclass(frozen=True)
class Goal:
    ratio: float
    per: str


@dataclass(frozen=True)
class AppliesTo:
    sites: tuple[str, ...] = ()
    where: Mapping[str, Scalar] = field(default_factory=dict)

    def matches_site(self, site: str) -> bool:
        return not self.sites or any(fnmatch.fnmatchcase(site, pattern) for pattern in self.sites)

    def matches(self, event: Event) -> bool:
        """Site glob and attribute equality on the start event."""
        return self.matches_site(event.site) and all(
            event.attrs.get(name) == value for name, value in self.where.items()
        )


@dataclass(frozen=True)
class Standard:
    id: str
    name: str
    description: str
    start: tuple[StartCandidate, ...]
    stop: tuple[str, ...]
    goal: Goal
    within: timedelta | None = None
    deadline_attr: str | None = None
    warn_after: timedelta | None = None
    cancel_on: tuple[str, ...] = ()
    pause_on: tuple[str, ...] = ()
    resume_on: tuple[str, ...] = ()
    escalate: tuple[EscalationStep, ...] = ()
    repeat: str | None = None
    correlate: str | None = None
    applies_to: AppliesTo = field(default_factory=AppliesTo)
    calendar: Calendar | None = None
    customer_need: str | None = None
    owner: str | None = None
    effective: date | None = None
    review_by: date | None = None
    file: str = ""
    version: int = 1
    start_is_first_of: bool = False

    @property
    def start_types(self) -> frozenset[str]:
        return frozenset(candidate.event for candidate in self.start)

    @property
    def event_types(self) -> frozenset[str]:
        """Every event type the standard refers to, for the Specific check and for indexing."""
        unless = {c.unless for c in self.start if c.unless}
        return frozenset(
            {*self.start_types, *unless, *self.stop, *self.cancel_on, *self.pause_on, *self.resume_on}
        )


@dataclass(frozen=True)
class FeedbackSignal:
    """An event carrying the customer's verdict (SPEC §4.1)."""

    event: str
    score_attr: str | None = None
    good_at_least: float | None = None

    def is_bad(self, event: Event) -> bool:
        if self.score_attr is None:
            return True
        score = event.attrs.get(self.score_attr)
        if not isinstance(score, (int, float)) or isinstance(score, bool):
            return False
        return self.good_at_least is not None and score < self.good_at_least


@dataclass(frozen=True)
class StandardsFile:
    """One validated file: its own catalogue, calendars, feedback signals and standards."""

    name: str
    version: int
    events: Mapping[str, str]
    calendars: Mapping[str, Calendar]
    feedback: tuple[FeedbackSignal, ...]
    standards: tuple[Standard, ...]


@dataclass(frozen=True)
class StandardSet:
    """All files in force together: catalogues merged, standard ids unique across files."""

    files: tuple[StandardsFile, ...] = ()

    @property
    def standards(self) -> tuple[Standard, ...]:
        return tuple(s for f in self.files for s in f.standards)

    @property
    def catalogue(self) -> Mapping[str, str]:
        return {name: text for f in self.files for name, text in f.events.items()}

    @property
    def feedback(self) -> tuple[FeedbackSignal, ...]:
        return tuple(signal for f in self.files for signal in f.feedback)

    def get(self, standard_id: str) -> Standard | None:
        return next((s for s in self.standards if s.id == standard_id), None)

    def file(self, name: str) -> StandardsFile | None:
        return next((f for f in self.files if f.name == name), None)
