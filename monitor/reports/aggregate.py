"""Compliance aggregation in SQL: one GROUP BY over the clocks table, on SQLite and PostgreSQL.

Group keys and their SQL are in :mod:`monitor.reports.groups`.

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
from datetime import datetime, time, timedelta, timezone
from typing import Any, Mapping, Sequence

from sqlalchemy import Float, String, and_, case, cast, func, literal, literal_column, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from monitor.core.smart import nearest_rank
from monitor.reports.document import COUNT_FIELDS, DURATION_FIELDS, Counts, Durations
from monitor.reports.groups import GROUP_KEYS
from monitor.reports.params import Bound, ReportQuery
from monitor.store.models import ClockRow

PERCENTILES = {"p50_s": 0.5, "p90_s": 0.9, "p95_s": 0.95}
# Local midnight lies between UTC−12 and UTC+14: widen a date bound by that much on start_at so
# the (standard_id, start_at) index still narrows the scan before start_local decides.
_AHEAD, _BEHIND = timedelta(hours=14), timedelta(hours=12)
_STOPPED = ("met", "missed")


@dataclass(frozen=True)
class GroupStats:
    standard: str
    keys: dict[str, Any]
    counts: Counts
    durations: Durations = Durations()
    versions: tuple[int, ...] = ()  # filled with ``with_sets``
    sites: tuple[str, ...] = ()


def _expressions(keys: Sequence[str], dialect: str) -> dict[str, ColumnElement]:
    return {key: GROUP_KEYS[key].expression(dialect) for key in keys}


def _answers(source, keys: Sequence[str], dialect: str) -> list[ColumnElement]:
    return [GROUP_KEYS[key].answered(source.c[f"k_{key}"], dialect) for key in keys]


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
             durations: Mapping[tuple, Durations] | None = None) -> list[GroupStats]:
    """Counts and duration figures per standard × group.

    ``with_sets`` adds each group's distinct standard versions and sites (for a report's title page).
    On SQLite the duration figures come from ``durations`` (see :func:`_sqlite_durations`); PostgreSQL
    computes them in the query.
    """
    dialect = session.get_bind().dialect.name
    postgresql = dialect == "postgresql"
    source = _classified(dialect, _expressions(keys, dialect), clock_filter(query))
    figures = []
    if postgresql:
        figures = [func.avg(source.c.d).label("mean_s"), func.max(source.c.d).label("max_s"),
                   *[func.percentile_disc(literal_column(repr(p))).within_group(source.c.d).label(name)
                     for name, p in PERCENTILES.items()]]
    group = [source.c.standard, *[source.c[f"k_{k}"] for k in keys]]
    labels = [answer.label(f"k_{k}") for k, answer in zip(keys, _answers(source, keys, dialect))]
    statement = select(
        source.c.standard, *labels,
        *[_count(source.c.kind, kind).label(kind) for kind in COUNT_FIELDS],
        *figures,
        *([_distinct_list(source.c.version, dialect).label("versions"),
           _distinct_list(source.c.site, dialect).label("sites")] if with_sets and not postgresql else []),
    ).group_by(*group).order_by(*[column.asc().nulls_last() for column in group])
    sets = _version_and_site_sets(session, source, group, labels) if with_sets and postgresql else {}
    out = []
    for row in session.connection().execute(statement).mappings():
        counts = Counts(*(int(row[k]) for k in COUNT_FIELDS))
        group_keys = {k: row[f"k_{k}"] for k in keys}
        identity = (row["standard"], *group_keys.values())
        if postgresql:
            figures_of = Durations(**{name: _seconds(row[name], 3 if name == "mean_s" else None)
                                      for name in DURATION_FIELDS})
        else:
            figures_of = durations.get(identity, Durations())
        versions, sites = ((), ())
        if with_sets:
            versions, sites = sets[identity] if postgresql else _split_sets(row)
        out.append(GroupStats(row["standard"], group_keys, counts, figures_of, versions=versions, sites=sites))
    return out


def _totals_of(rows: list[GroupStats], durations: Mapping[tuple, Durations]) -> list[GroupStats]:
    """Per standard: the sums of its groups' counts, the union of their sets, its own duration figures."""
    by_standard: dict[str, list[GroupStats]] = {}
    for row in rows:
        by_standard.setdefault(row.standard, []).append(row)
    return [GroupStats(standard, {}, Counts(*(sum(getattr(r.counts, name) for r in own) for name in COUNT_FIELDS)),
                       durations.get((standard,), Durations()),
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
    source = _classified("sqlite", _expressions(keys, "sqlite"), clock_filter(query))
    labels = _answers(source, keys, "sqlite")
    groups: dict[tuple, list[float]] = defaultdict(list)
    standards: dict[tuple, list[float]] = defaultdict(list)
    for standard, *group, duration in session.connection().execute(
            select(source.c.standard, *labels, source.c.d).where(source.c.d.is_not(None))):
        groups[(standard, *group)].append(duration)
        if keys:
            standards[(standard,)].append(duration)
    by_group = {group: _figures(values) for group, values in groups.items()}
    return by_group, ({group: _figures(values) for group, values in standards.items()} if keys else by_group)


def _figures(durations: list[float]) -> Durations:
    durations.sort()
    return Durations(mean_s=_seconds(math.fsum(durations) / len(durations), 3),
                     **{name: nearest_rank(durations, share) for name, share in PERCENTILES.items()},
                     max_s=float(durations[-1]))


def _seconds(value: Any, digits: int | None = None) -> float | None:
    if value is None:
        return None
    return round(float(value), digits) if digits is not None else float(value)


def period_counts(session: Session, query: ReportQuery, per: Mapping[str, str]) -> list[tuple[str, str, Counts]]:
    """Counts per standard and goal period, each standard by its own ``goal.per`` (a group key: day, week or month)."""
    if not per:
        return []
    dialect = session.get_bind().dialect.name
    period = case({standard: GROUP_KEYS[p].expression(dialect) for standard, p in per.items()},
                  value=ClockRow.standard_id, else_=None)
    inner = _classified(dialect, {"period": period}, clock_filter(query, list(per)))
    group = [inner.c.standard, inner.c.k_period]
    # Only keys whose answer differs from the grouped value (the week on SQLite) need a CASE per standard.
    answered = [(GROUP_KEYS[p], [s for s, q in per.items() if q == p]) for p in dict.fromkeys(per.values())
                if GROUP_KEYS[p].answer is not None]
    label = case(*[(inner.c.standard.in_(standards), key.answered(inner.c.k_period, dialect))
                   for key, standards in answered], else_=inner.c.k_period) if answered else inner.c.k_period
    statement = select(inner.c.standard, label.label("k_period"),
                       *[_count(inner.c.kind, kind).label(kind) for kind in COUNT_FIELDS]
                       ).group_by(*group).order_by(*group)
    return [(row["standard"], row["k_period"], Counts(*(int(row[k]) for k in COUNT_FIELDS)))
            for row in session.connection().execute(statement).mappings()]


def standard_has_clocks(session: Session, standard: str) -> bool:
    return session.scalar(select(ClockRow.id).where(ClockRow.standard_id == standard).limit(1)) is not None

