"""Which version of a standard judges a clock (SPEC §3.2 "versions"), as a pure function.

A clock is judged, for its whole life, by the version of its standard that was in force at the
clock's start: the newest version *saved before* the start instant. Saving a version changes the
clocks that start after the save, never one that started before it — running or stopped, whatever
events arrive later. An explicit re-judgement (§8 ``rejudge``) applies a version to the clocks that
started in a window instead. The rules, all decided from the stored history alone, so that the
service, a back-test and the audit check (which re-derives every stored clock) agree:

* **in force at t**: the standards after the last save strictly before ``t``. Instants before the
  first save of all (a replayed or back-filled log older than the service) count as the first
  save: the standards the monitor started with judge everything before it. A standard added later
  judges only clocks that start after it was added (and, through a re-judgement, older ones).
* **removed**: a standard no longer in the files starts no clock after the save that removed it;
  clocks that started before keep being judged by their own version (a stop that arrives later
  still stops them).
* **re-judged**: the newest re-judgement of the standard whose window ``[from, to)`` holds the
  start (``to`` capped at the re-judgement's own instant: a clock that starts afterwards is judged
  by the version in force at its start, as any other) decides instead of the saves.
* **which start**: the start itself depends on the version (another start event, ``first_of``,
  ``applies_to``). Every version in force at one of the case's event times is tried; a clock counts
  only when the version in force at *its* start is the version that found it, and of those the
  earliest start wins (the clock that started first is the case's clock).
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Mapping, Sequence

from monitor.core.calendars import Interval
from monitor.core.clocks import DEFAULT_SKEW, Clock, evaluate, unique_sorted
from monitor.core.events import Event
from monitor.core.standards import Standard


@dataclass(frozen=True)
class Rejudgement:
    """Clocks of ``standard`` starting in ``[start, end)`` are judged by ``definition``."""

    standard: str
    start: datetime
    end: datetime
    definition: Standard


class History:
    """The standards in force over time, and the re-judgements made.

    ``changes`` is ``[(saved_at, {standard id: Standard}), …]`` in time order: from just after
    ``saved_at`` on, those standards are in force (a standard missing from a mapping is not).
    Definitions are compared by identity, so pass the same object for an unchanged version.
    """

    def __init__(self, changes: Sequence[tuple[datetime, Mapping[str, Standard]]] = (),
                 rejudgements: Sequence[Rejudgement] = ()) -> None:
        self._instants = [at for at, _ in changes]
        self._maps = [dict(mapping) for _, mapping in changes]
        self.rejudgements = tuple(rejudgements)
        self._rejudged: dict[str, list[Rejudgement]] = {}
        for rejudgement in self.rejudgements:
            self._rejudged.setdefault(rejudgement.standard, []).append(rejudgement)
        definitions: dict[str, dict[int, Standard]] = {}
        for mapping in self._maps:
            for standard_id, standard in mapping.items():
                definitions.setdefault(standard_id, {})[id(standard)] = standard
        for rejudgement in self.rejudgements:
            definitions.setdefault(rejudgement.standard, {})[id(rejudgement.definition)] = rejudgement.definition
        self._definitions = {standard_id: list(found.values()) for standard_id, found in definitions.items()}
        # one version, in force at every instant and never re-judged: no look-ups needed
        self._always = {standard_id for standard_id, found in self._definitions.items()
                        if len(found) == 1 and standard_id not in self._rejudged
                        and all(mapping.get(standard_id) is found[0] for mapping in self._maps)}
        self._by_start: dict[str, list[str]] = {}
        for standard_id, found in self._definitions.items():
            for event_type in sorted({t for standard in found for t in standard.start_types}):
                self._by_start.setdefault(event_type, []).append(standard_id)

    def with_rejudgement(self, rejudgement: Rejudgement) -> "History":
        return History(list(zip(self._instants, self._maps)), (*self.rejudgements, rejudgement))

    @property
    def latest(self) -> Mapping[str, Standard]:
        """The standards in force now (after the last save)."""
        return self._maps[-1] if self._maps else {}

    @property
    def start_types(self) -> frozenset[str]:
        """Every event type some version of some standard starts on."""
        return frozenset(self._by_start)

    def standards_for(self, event_types: Iterable[str]) -> list[str]:
        """Ids of the standards some version of which starts on one of these event types."""
        found: dict[str, None] = {}
        for event_type in event_types:
            for standard_id in self._by_start.get(event_type, ()):
                found[standard_id] = None
        return list(found)

    def version_for(self, standard_id: str, start: datetime) -> Standard | None:
        """The version that judges a clock of ``standard_id`` starting at ``start`` (None: none may start)."""
        for rejudgement in reversed(self._rejudged.get(standard_id, ())):
            if rejudgement.start <= start < rejudgement.end:
                return rejudgement.definition
        if not self._maps:
            return None
        index = max(bisect.bisect_left(self._instants, start) - 1, 0)
        return self._maps[index].get(standard_id)

    def judge(self, standard_id: str, events: Iterable[Event], now: datetime, *,
              offline: Sequence[Interval] = (), skew: timedelta = DEFAULT_SKEW) -> list[tuple[Clock, Standard]]:
        """The clocks of one standard over one case's events, each with the version that judged it."""
        ordered = unique_sorted(events)
        if standard_id in self._always:
            only = self._definitions[standard_id][0]
            return [(clock, only) for clock in evaluate(only, ordered, now, offline=offline, skew=skew)]
        if not ordered:
            return []
        if standard_id not in self._rejudged and self._maps:
            # the case's events all lie between two saves: one version judges every clock it can start
            first = max(bisect.bisect_left(self._instants, ordered[0].at) - 1, 0)
            if first == max(bisect.bisect_left(self._instants, ordered[-1].at) - 1, 0):
                only = self._maps[first].get(standard_id)
                if only is None:
                    return []
                return [(clock, only) for clock in evaluate(only, ordered, now, offline=offline, skew=skew)]
        tried: dict[int, Standard] = {}
        for event in ordered:
            definition = self.version_for(standard_id, event.at)
            if definition is not None:
                tried.setdefault(id(definition), definition)
        best: dict[str, tuple[Clock, Standard]] = {}
        for definition in tried.values():
            for clock in evaluate(definition, ordered, now, offline=offline, skew=skew):
                if self.version_for(standard_id, clock.start) is not definition:
                    continue  # that version was not in force when this clock would have started
                held = best.get(clock.key)
                if held is None or clock.start < held[0].start:
                    best[clock.key] = (clock, definition)
        return sorted(best.values(), key=lambda pair: (pair[0].start, pair[0].key))

