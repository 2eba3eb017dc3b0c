"""The compliance report document (SPEC §6, §7): what ``build_report`` answers and every format renders.

``to_json()`` is the API's JSON answer, key for key in this order (SPEC §6's keys first, then what an
auditor needs to read it on its own)::

    {"from", "to", "chain_head", "standards": [
        {"standard", "versions", "goal_ratio", "rows": [{…group keys, "met", "missed", "breached",
          "cancelled", "data_gap", "compliance", "mean_s", "p50_s", "p90_s", "p95_s", "max_s", "goal_met"}],
         "name", "file", "version_in_force", "goal_per",
         "total": {…one row over the whole period…},
         "periods": [{"period", "met", "missed", "breached", "cancelled", "data_gap", "compliance", "goal_met"}],
         "daily": [...same as periods, by local day; only when asked for (the PDF's chart)...]}],
     "group_by", "sites": [{"id", "name", "timezone"}], "generated_at"}

``goal_met`` is ``compliance >= goal.ratio`` (null when nothing was decided or the standard is
no longer in force); ``periods`` judges the goal per ``goal.per`` as the standard asks.
"""
from __future__ import annotations

from dataclasses import asdict, astuple, dataclass
from typing import Any, Mapping

COUNT_FIELDS = ("met", "missed", "breached", "cancelled", "data_gap")
DURATION_FIELDS = ("mean_s", "p50_s", "p90_s", "p95_s", "max_s")
ROW_FIELDS = (*COUNT_FIELDS, "compliance", *DURATION_FIELDS, "goal_met")
PERIOD_FIELDS = ("period", *COUNT_FIELDS, "compliance", "goal_met")


@dataclass(frozen=True)
class Counts:
    met: int = 0
    missed: int = 0
    breached: int = 0
    cancelled: int = 0
    data_gap: int = 0

    @property
    def decided(self) -> int:
        return self.met + self.missed + self.breached

    @property
    def clocks(self) -> int:
        return sum(astuple(self))

    @property
    def compliance(self) -> float | None:
        return self.met / self.decided if self.decided else None

    def goal_met(self, ratio: float | None) -> bool | None:
        if ratio is None or self.compliance is None:
            return None
        # met / decided is the correctly rounded quotient, so an exact hit (19/20 vs 0.95) compares equal
        return self.compliance >= ratio


@dataclass(frozen=True)
class Durations:
    """Over the stopped clocks without a data gap; percentiles are nearest-rank."""

    mean_s: float | None = None
    p50_s: float | None = None
    p90_s: float | None = None
    p95_s: float | None = None
    max_s: float | None = None


def _judged(counts: Counts, goal_met: bool | None, field: str) -> Any:
    if field == "compliance":
        return counts.compliance
    if field == "goal_met":
        return goal_met
    return getattr(counts, field)


@dataclass(frozen=True)
class Row:
    """One standard × group (or the whole period): ``keys`` maps each ``group_by`` key to its value."""

    keys: Mapping[str, Any]
    counts: Counts
    durations: Durations
    goal_met: bool | None

    def value(self, field: str) -> Any:
        """A group key's value or a figure, by its JSON name."""
        if field in self.keys:
            return self.keys[field]
        if field in DURATION_FIELDS:
            return getattr(self.durations, field)
        return _judged(self.counts, self.goal_met, field)

    def to_json(self) -> dict[str, Any]:
        return {**self.keys, **{name: self.value(name) for name in ROW_FIELDS}}


@dataclass(frozen=True)
class Period:
    """A goal period (or a local day) of one standard: ``2026-W48``, ``2026-11-25``, ``2026-11``."""

    period: str
    counts: Counts
    goal_met: bool | None

    def value(self, field: str) -> Any:
        return self.period if field == "period" else _judged(self.counts, self.goal_met, field)

    def to_json(self) -> dict[str, Any]:
        return {name: self.value(name) for name in PERIOD_FIELDS}


@dataclass(frozen=True)
class StandardReport:
    """One standard's part; ``name``, ``file``, ``version_in_force`` and ``goal_per`` are None for a
    standard no longer in force that still has clocks in the period."""

    standard: str
    versions: tuple[int, ...]
    goal_ratio: float | None
    rows: tuple[Row, ...]
    name: str | None
    file: str | None
    version_in_force: int | None
    goal_per: str | None
    total: Row
    periods: tuple[Period, ...]
    daily: tuple[Period, ...] | None = None  # only when asked for

    def to_json(self) -> dict[str, Any]:
        out = {"standard": self.standard, "versions": list(self.versions), "goal_ratio": self.goal_ratio,
               "rows": [row.to_json() for row in self.rows], "name": self.name, "file": self.file,
               "version_in_force": self.version_in_force, "goal_per": self.goal_per,
               "total": self.total.to_json(), "periods": [period.to_json() for period in self.periods]}
        if self.daily is not None:
            out["daily"] = [day.to_json() for day in self.daily]
        return out


@dataclass(frozen=True)
class Site:
    id: str
    name: str
    timezone: str  # IANA name

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ComplianceReport:
    """``start`` and ``end`` are the bounds as the API writes them (a date, or an instant in UTC with Z)."""

    start: str
    end: str
    chain_head: str
    standards: tuple[StandardReport, ...]
    group_by: tuple[str, ...]
    sites: tuple[Site, ...]
    generated_at: str  # RFC 3339, UTC, whole seconds

    @property
    def columns(self) -> list[str]:
        """Column order of one standard's rows: the group keys, then every figure."""
        return [*self.group_by, *ROW_FIELDS]

    def to_json(self) -> dict[str, Any]:
        return {"from": self.start, "to": self.end, "chain_head": self.chain_head,
                "standards": [entry.to_json() for entry in self.standards], "group_by": list(self.group_by),
                "sites": [site.to_json() for site in self.sites], "generated_at": self.generated_at}
