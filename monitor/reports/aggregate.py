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

import math
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
from sqlalchemy.sql import ColumnElement

from monitor.core.smart import nearest_rank
from monitor.reports.params import Bound, ReportQuery
from monitor.store.models import ClockRow

PERCENTILES = {"p50_s": 0.5, "p90_s": 0.9, "p95_s": 0.95}
DURATION_FIGURES = ("mean_s", *PERCENTILES, "max_s")
COUNTED = ("met", "missed", "breached", "cancelled", "data_gap")
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


def report_stats(session: Session, query: ReportQuery) -> tuple[list[GroupStats], list[GroupStats]]:
    """Per-standard totals (with their version and site sets) and the rows per ``query.group_by``
    group (the totals again when there is no grouping).

    On SQLite one pass over the stopped durations gives every duration figure (groups and totals)
    and the totals' counts are the sums of the groups' — each scan of a million clocks costs a
    second there; PostgreSQL computes each level in SQL.
    """
    keys = tuple(query.group_by)
    if session.get_bind().dialect.name == "postgresql":
        totals = _grouped(session, query, (), with_sets=True)
        if not keys:
            return totals, totals
        return totals, (_grouped(session, query, keys) if totals else [])
    by_group, by_standard = _sqlite_durations(session, query, keys)
    rows = _grouped(session, query, keys, with_sets=True, durations=by_group)
    return (_totals_of(rows, by_standard) if keys else rows), rows


def _grouped(session: Session, query: ReportQuery, keys: Sequence[str], with_sets: bool = False,
             durations: Mapping[tuple, dict[str, float | None]] | None = None) -> list[GroupStats]:
    """Counts and duration figures per standard × group.

    ``with_sets`` adds each group's distinct standard versions and sites (for a report's title page).
    On SQLite the duration figures come from ``durations`` (see :func:`_sqlite_durations`); PostgreSQL
    computes them in the query.
    """
    dialect = session.get_bind().dialect.name
    postgresql = dialect == "postgresql"
    source = _classified(dialect, {k: key_expression(k, dialect) for k in keys}, clock_filter(query))
    figures = []
    if postgresql:
        figures = [func.avg(source.c.d).label("mean_s"), func.max(source.c.d).label("max_s"),
                   *[func.percentile_disc(literal_column(repr(p))).within_group(source.c.d).label(name)
                     for name, p in PERCENTILES.items()]]
    group = [source.c.standard, *[source.c[f"k_{k}"] for k in keys]]
    labels = [key_label(k, source.c[f"k_{k}"], dialect).label(f"k_{k}") for k in keys]
    statement = select(
        source.c.standard, *labels,
        *[_count(source.c.kind, kind).label(kind) for kind in COUNTED],
        *figures,
        *([_distinct_list(source.c.version, dialect).label("versions"),
           _distinct_list(source.c.site, dialect).label("sites")] if with_sets and not postgresql else []),
    ).group_by(*group).order_by(*[column.asc().nulls_last() for column in group])
    sets = _version_and_site_sets(session, source, group, labels) if with_sets and postgresql else {}
    out = []
    for row in session.connection().execute(statement).mappings():
        counts = Counts(*(int(row[k]) for k in COUNTED))
        group_keys = {k: row[f"k_{k}"] for k in keys}
        identity = (row["standard"], *group_keys.values())
        if postgresql:
            stats = {name: _seconds(row[name], 3 if name == "mean_s" else None) for name in DURATION_FIGURES}
        else:
            stats = durations.get(identity, {})
        versions, sites = ((), ())
        if with_sets:
            versions, sites = sets[identity] if postgresql else _split_sets(row)
        out.append(GroupStats(row["standard"], group_keys, counts, **stats, versions=versions, sites=sites))
    return out


def _totals_of(rows: list[GroupStats], durations: Mapping[tuple, dict[str, float | None]]) -> list[GroupStats]:
    """Per standard: the sums of its groups' counts, the union of their sets, its own duration figures."""
    by_standard: dict[str, list[GroupStats]] = {}
    for row in rows:
        by_standard.setdefault(row.standard, []).append(row)
    return [GroupStats(standard, {}, Counts(*(sum(getattr(r.counts, name) for r in own) for name in COUNTED)),
                       **durations.get((standard,), {}),
                       versions=tuple(sorted({v for r in own for v in r.versions})),
                       sites=tuple(sorted({s for r in own for s in r.sites})))
            for standard, own in by_standard.items()]


def _split_sets(row: Mapping[str, Any]) -> tuple[tuple[int, ...], tuple[str, ...]]:
    return (tuple(sorted(int(v) for v in (row["versions"] or "").split(",") if v)),
            tuple(sorted(s for s in (row["sites"] or "").split(",") if s)))


def _version_and_site_sets(session: Session, source, group: list, labels: list) -> dict[tuple, tuple]:
    """PostgreSQL: group → its distinct versions and sites, from one hashed GROUP BY; DISTINCT
    aggregates in the main query sorted every group twice more (3.0 s → 1.4 s for the totals of a
    million clocks). On SQLite it is the other way round, so there they stay in the main query."""
    versions: dict[tuple, set[int]] = defaultdict(set)
    sites: dict[tuple, set[str]] = defaultdict(set)
    for *key, version, site in session.connection().execute(
            select(source.c.standard, *labels, source.c.version, source.c.site)
            .group_by(*group, source.c.version, source.c.site)):
        versions[tuple(key)].add(int(version))
        sites[tuple(key)].add(site)
    return {key: (tuple(sorted(versions[key])), tuple(sorted(sites[key]))) for key in versions}


def _sqlite_durations(session: Session, query: ReportQuery, keys: tuple[str, ...]) -> tuple[dict, dict]:
    """Duration figures (mean, nearest-rank percentiles, max) per (standard, *group keys) and per
    (standard,), from one pass over the stopped clocks' durations.

    SQLite has no ordered-set aggregate; ranking inside SQL (ROW_NUMBER over each group) took four
    times as long at a million clocks as streaming the durations out and sorting them per group.
    """
    source = _classified("sqlite", {k: key_expression(k, "sqlite") for k in keys}, clock_filter(query))
    labels = [key_label(k, source.c[f"k_{k}"], "sqlite") for k in keys]
    groups: dict[tuple, list[float]] = defaultdict(list)
    standards: dict[tuple, list[float]] = defaultdict(list)
    for standard, *group, duration in session.connection().execute(
            select(source.c.standard, *labels, source.c.d).where(source.c.d.is_not(None))):
        groups[(standard, *group)].append(duration)
        if keys:
            standards[(standard,)].append(duration)
    by_group = {group: _figures(values) for group, values in groups.items()}
    return by_group, ({group: _figures(values) for group, values in standards.items()} if keys else by_group)


def _figures(durations: list[float]) -> dict[str, float | None]:
    durations.sort()
    return {"mean_s": _seconds(math.fsum(durations) / len(durations), 3),
            **{name: nearest_rank(durations, share) for name, share in PERCENTILES.items()},
            "max_s": float(durations[-1])}


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
    statement = select(inner.c.standard, label.label("k_period"),
                       *[_count(inner.c.kind, kind).label(kind) for kind in COUNTED]).group_by(*group).order_by(*group)
    return [(row["standard"], row["k_period"], Counts(*(int(row[k]) for k in COUNTED)))
            for row in session.connection().execute(statement).mappings()]


def standard_has_clocks(session: Session, standard: str) -> bool:
    return session.scalar(select(ClockRow.id).where(ClockRow.standard_id == standard).limit(1)) is not None


def today_utc() -> date:
    return datetime.now(timezone.utc).date()
