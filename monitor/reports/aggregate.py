"""Compliance aggregation in SQL: one GROUP BY over the clocks table, on SQLite and PostgreSQL.

Group keys come from ``start_local`` (the start in the clock's own site timezone), so a day or a
week is the site's day or week:

* ``day`` ``2026-11-25``, ``month`` ``2026-11``, ``hour`` the hour of the local day (0–23; with
  ``day`` too it becomes a time series);
* ``week`` the ISO 8601 week, labelled ``2026-W48`` (weeks start on Monday; the ISO year is the
  year of the week's Thursday, so 2027-01-01 lies in ``2026-W53``);
* ``site``, ``staff`` (the start event's staff; null when the event named nobody).

A clock with ``data_gap`` is counted in ``data_gap`` only: not in met/missed/breached/cancelled,
not in compliance and not in the durations. Durations are over the stopped clocks (``met`` and
``missed``).

Percentiles are *nearest-rank*: p-th percentile of n sorted durations = the value at rank
ceil(p·n) (1-based). PostgreSQL's ``percentile_disc`` is exactly that; SQLite has no ordered-set
aggregates, so there the stopped durations are streamed out once and ranked per group by
:func:`monitor.core.smart.nearest_rank` — the same number on both.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Mapping, Sequence

from sqlalchemy import (
    Date,
    Float,
    Integer,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement, Select

from monitor.core.smart import nearest_rank
from monitor.reports.params import Bound, ReportQuery
from monitor.store.models import ClockRow

PERCENTILES = {"p50_s": 0.5, "p90_s": 0.9, "p95_s": 0.95}
# Local midnight lies between UTC−12 and UTC+14: widen a date bound by that much on start_at so
# the (standard_id, start_at) index still narrows the scan before start_local decides.
_AHEAD, _BEHIND = timedelta(hours=14), timedelta(hours=12)
_STOPPED = ("met", "missed")


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
    def compliance(self) -> float | None:
        return self.met / self.decided if self.decided else None


@dataclass(frozen=True)
class GroupStats:
    standard: str
    keys: dict[str, Any]
    counts: Counts
    mean_s: float | None = None
    p50_s: float | None = None
    p90_s: float | None = None
    p95_s: float | None = None
    max_s: float | None = None
    versions: tuple[int, ...] = ()  # filled with ``with_sets``
    sites: tuple[str, ...] = ()


# -- expressions ---------------------------------------------------------------------------
def _local_date(dialect: str) -> ColumnElement:
    text_date = func.substr(ClockRow.start_local, 1, 10)
    return cast(text_date, Date) if dialect == "postgresql" else text_date


def _iso_week(dialect: str) -> ColumnElement:
    if dialect == "postgresql":
        return func.to_char(_local_date(dialect), literal_column("'IYYY-\"W\"IW'"))
    # SQLite: group on the ISO week's Thursday (the next-or-same Sunday, three days back), one
    # date() per clock; week_label() turns it into 2026-W48 once per group, not once per clock.
    return func.date(func.substr(ClockRow.start_local, 1, 10), "weekday 0", "-3 days")


def _week_label_sqlite(thursday: ColumnElement) -> ColumnElement:
    # The Thursday's year is the ISO year, and (its day of the year − 1) // 7 + 1 the ISO week.
    number = (cast(func.strftime("%j", thursday), Integer) - 1) // 7 + 1
    return func.printf("%s-W%02d", func.strftime("%Y", thursday), number)


def key_label(key: str, grouped: ColumnElement, dialect: str) -> ColumnElement:
    """What a grouped key column reads as in the answer."""
    if key == "week" and dialect != "postgresql":
        return _week_label_sqlite(grouped)
    return grouped


def key_expression(key: str, dialect: str) -> ColumnElement:
    if key == "site":
        return ClockRow.site
    if key == "staff":
        return ClockRow.staff
    if key == "day":
        return func.substr(ClockRow.start_local, 1, 10)
    if key == "month":
        return func.substr(ClockRow.start_local, 1, 7)
    if key == "hour":
        return cast(func.substr(ClockRow.start_local, 12, 2), Integer)
    if key == "week":
        return _iso_week(dialect)
    raise ValueError(f"unknown group key {key!r}")


def _lower(bound: Bound) -> list[ColumnElement]:
    if isinstance(bound, datetime):
        return [ClockRow.start_at >= bound]
    midnight = datetime.combine(bound, time(), timezone.utc)
    return [ClockRow.start_at >= midnight - _AHEAD, ClockRow.start_local >= bound.isoformat()]


def _upper(bound: Bound) -> list[ColumnElement]:
    if isinstance(bound, datetime):
        return [ClockRow.start_at < bound]
    midnight = datetime.combine(bound, time(), timezone.utc)
    return [ClockRow.start_at < midnight + _BEHIND, ClockRow.start_local < bound.isoformat()]


def clock_filter(query: ReportQuery, standards: Sequence[str] | None = None) -> ColumnElement:
    """Clocks whose start lies in [from, to), at the chosen sites, of the chosen standards."""
    conditions = [*_lower(query.start), *_upper(query.end)]
    chosen = standards if standards is not None else query.standards
    if chosen:
        conditions.append(ClockRow.standard_id.in_(list(chosen)))
    if query.sites:
        conditions.append(ClockRow.site.in_(list(query.sites)))
    return and_(*conditions)


def _classified(dialect: str, keys: Mapping[str, ColumnElement], where: ColumnElement):
    """One row per clock: its standard, group keys, what it counts as, and its duration if stopped."""
    kind = case((ClockRow.data_gap, literal("data_gap")), else_=ClockRow.state)
    duration = case((and_(ClockRow.state.in_(_STOPPED), ~ClockRow.data_gap), ClockRow.duration_s), else_=None)
    return select(ClockRow.standard_id.label("standard"), *[expr.label(f"k_{name}") for name, expr in keys.items()],
                  kind.label("kind"), cast(duration, Float).label("d"), ClockRow.version.label("version"),
                  ClockRow.site.label("site")).where(where).subquery("classified")


def _count(column, kind: str):
    return func.coalesce(func.sum(case((column == kind, 1), else_=0)), 0)


def _distinct_list(column, dialect: str):
    """The distinct values of a group as one comma-separated text (sorted later, in the answer)."""
    if dialect == "postgresql":
        return func.string_agg(cast(column, String).distinct(), literal_column("','"))
    return func.group_concat(column.distinct())


def grouped_stats(session: Session, query: ReportQuery, keys: Sequence[str],
                  standards: Sequence[str] | None = None, with_sets: bool = False) -> list[GroupStats]:
    """Counts and duration statistics per standard × group.

    ``with_sets`` adds each group's distinct standard versions and sites (for a report's title page).
    """
    dialect = session.get_bind().dialect.name
    postgresql = dialect == "postgresql"
    source = _classified(dialect, {k: key_expression(k, dialect) for k in keys}, clock_filter(query, standards))
    percentiles = []
    if postgresql:
        percentiles = [func.percentile_disc(literal_column(repr(p))).within_group(source.c.d).label(name)
                       for name, p in PERCENTILES.items()]
    group = [source.c.standard, *[source.c[f"k_{k}"] for k in keys]]
    labels = [key_label(k, source.c[f"k_{k}"], dialect).label(f"k_{k}") for k in keys]
    statement = select(
        source.c.standard, *labels,
        *[_count(source.c.kind, kind).label(kind) for kind in ("met", "missed", "breached", "cancelled", "data_gap")],
        func.avg(source.c.d).label("mean_s"), func.max(source.c.d).label("max_s"), *percentiles,
        *([_distinct_list(source.c.version, dialect).label("versions"),
           _distinct_list(source.c.site, dialect).label("sites")] if with_sets and not postgresql else []),
    ).group_by(*group).order_by(*[column.asc().nulls_last() for column in group])
    ranked = None if postgresql else _sqlite_percentiles(
        session, select(source.c.standard, *labels, source.c.d).where(source.c.d.is_not(None)))
    sets = _version_and_site_sets(session, source, group, labels) if with_sets and postgresql else {}
    out = []
    for row in session.execute(statement).mappings():
        counts = Counts(*(int(row[k]) for k in ("met", "missed", "breached", "cancelled", "data_gap")))
        group_keys = {k: row[f"k_{k}"] for k in keys}
        if ranked is None:
            shares = [_seconds(row[name]) for name in PERCENTILES]
        else:
            shares = ranked.get((row["standard"], *group_keys.values()), [None] * len(PERCENTILES))
        versions, sites = ((), ())
        if with_sets:
            versions, sites = sets[(row["standard"], *group_keys.values())] if postgresql else _split_sets(row)
        out.append(GroupStats(row["standard"], group_keys, counts, _seconds(row["mean_s"], 3), *shares,
                              _seconds(row["max_s"]), versions, sites))
    return out


def _split_sets(row: Mapping[str, Any]) -> tuple[tuple[int, ...], tuple[str, ...]]:
    return (tuple(sorted(int(v) for v in (row["versions"] or "").split(",") if v)),
            tuple(sorted(s for s in (row["sites"] or "").split(",") if s)))


def _version_and_site_sets(session: Session, source, group: list, labels: list) -> dict[tuple, tuple]:
    """PostgreSQL: group → its distinct versions and sites, from one hashed GROUP BY; DISTINCT
    aggregates in the main query sorted every group twice more (3.0 s → 1.4 s for the totals of a
    million clocks). On SQLite it is the other way round, so there they stay in the main query."""
    versions: dict[tuple, set[int]] = defaultdict(set)
    sites: dict[tuple, set[str]] = defaultdict(set)
    for *key, version, site in session.execute(
            select(source.c.standard, *labels, source.c.version, source.c.site)
            .group_by(*group, source.c.version, source.c.site)):
        versions[tuple(key)].add(int(version))
        sites[tuple(key)].add(site)
    return {key: (tuple(sorted(versions[key])), tuple(sorted(sites[key]))) for key in versions}


def _sqlite_percentiles(session: Session, durations: Select) -> dict[tuple, list[float | None]]:
    """(standard, *group keys) → nearest-rank percentiles, from one pass over ``durations`` (the
    group's columns, then a stopped clock's duration).

    SQLite has no ordered-set aggregate; ranking inside SQL (ROW_NUMBER over each group) took four
    times as long at a million clocks as streaming the durations out and sorting them per group.
    """
    grouped: dict[tuple, list[float]] = defaultdict(list)
    for *group, duration in session.execute(durations):
        grouped[tuple(group)].append(duration)
    out = {}
    for group, values in grouped.items():
        values.sort()
        out[group] = [nearest_rank(values, share) for share in PERCENTILES.values()]
    return out


def _seconds(value: Any, digits: int | None = None) -> float | None:
    if value is None:
        return None
    return round(float(value), digits) if digits is not None else float(value)


def period_counts(session: Session, query: ReportQuery, per: Mapping[str, str]) -> list[tuple[str, str, Counts]]:
    """Counts per standard and goal period, each standard by its own ``goal.per`` (day, week or month)."""
    if not per:
        return []
    dialect = session.get_bind().dialect.name
    period = case({standard: key_expression(p, dialect) for standard, p in per.items()},
                  value=ClockRow.standard_id, else_=None)
    inner = _classified(dialect, {"period": period}, clock_filter(query, list(per)))
    group = [inner.c.standard, inner.c.k_period]
    weekly = [standard for standard, p in per.items() if p == "week"]
    label = case((inner.c.standard.in_(weekly), key_label("week", inner.c.k_period, dialect)),
                 else_=inner.c.k_period) if weekly else inner.c.k_period
    statement = select(inner.c.standard, label.label("k_period"), *[_count(inner.c.kind, kind).label(kind)
                                 for kind in ("met", "missed", "breached", "cancelled", "data_gap")]
                       ).group_by(*group).order_by(*group)
    return [(row["standard"], row["k_period"],
             Counts(*(int(row[k]) for k in ("met", "missed", "breached", "cancelled", "data_gap"))))
            for row in session.execute(statement).mappings()]


def standard_has_clocks(session: Session, standard: str) -> bool:
    return session.scalar(select(ClockRow.id).where(ClockRow.standard_id == standard).limit(1)) is not None


def today_utc() -> date:
    return datetime.now(timezone.utc).date()
