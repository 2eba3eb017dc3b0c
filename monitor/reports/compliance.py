"""Build the compliance report document (:mod:`monitor.reports.document`) from the database."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

from monitor.core.messages import msg
from monitor.core.standards import Standard, StandardSet
from monitor.reports import aggregate
from monitor.reports.aggregate import GroupStats
from monitor.reports.document import ComplianceReport, Counts, Period, Row, Site, StandardReport
from monitor.reports.params import ReportParamError, ReportQuery, format_bound
from monitor.store import audit
from monitor.store.db import Database

SiteNamer = Callable[[str], tuple[str, str]]  # site id → (name, IANA timezone)


def _row(stats: GroupStats, ratio: float | None) -> Row:
    return Row(stats.keys, stats.counts, stats.durations, stats.counts.goal_met(ratio))


def _empty(standard: str) -> GroupStats:
    return GroupStats(standard, {}, Counts())


def build_report(db: Database, standards: StandardSet, query: ReportQuery, site_info: SiteNamer, *,
                 daily: bool = False, now: datetime | None = None) -> ComplianceReport:
    """Run the aggregation (a handful of GROUP BY queries in one snapshot) and shape the document."""
    now = now or datetime.now(timezone.utc)
    with db.read_session() as session:
        for wanted in query.standards:
            if standards.get(wanted) is None and not aggregate.standard_has_clocks(session, wanted):
                raise ReportParamError("standard", msg("standard: no standard {id} is in force or has clocks",
                                                       id=repr(wanted)))
        totals, rows = aggregate.report_stats(session, query)
        ids = list(query.standards) or _all_ids(standards, [t.standard for t in totals])
        in_force: dict[str, Standard] = {s: standards.get(s) for s in ids if standards.get(s) is not None}
        periods = aggregate.period_counts(session, query, {s: std.goal.per for s, std in in_force.items()})
        days = aggregate.period_counts(session, query, {s: "day" for s in ids}) if daily else []
        head = audit.head(session)

    by_standard: dict[str, list[GroupStats]] = {}
    for stats in rows:
        by_standard.setdefault(stats.standard, []).append(stats)
    total_of = {stats.standard: stats for stats in totals}
    sites = list(query.sites) or sorted({site for stats in totals for site in stats.sites})
    entries = []
    for standard_id in ids:
        standard = in_force.get(standard_id)
        ratio = standard.goal.ratio if standard else None

        def judged(source: list[tuple[str, str, Counts]]) -> tuple[Period, ...]:
            return tuple(Period(p, c, c.goal_met(ratio)) for s, p, c in source if s == standard_id)

        own_rows = by_standard.get(standard_id, [])
        if not query.group_by and not own_rows:
            own_rows = [_empty(standard_id)]  # one row per standard, even when no clock started
        entries.append(StandardReport(
            standard=standard_id,
            versions=total_of[standard_id].versions if standard_id in total_of else (),
            goal_ratio=ratio,
            rows=tuple(_row(r, ratio) for r in own_rows),
            name=standard.name if standard else None,
            file=standard.file if standard else None,
            version_in_force=standard.version if standard else None,
            goal_per=standard.goal.per if standard else None,
            total=_row(total_of.get(standard_id) or _empty(standard_id), ratio),
            periods=judged(periods),
            daily=judged(days) if daily else None,
        ))
    return ComplianceReport(
        start=format_bound(query.start),
        end=format_bound(query.end),
        chain_head=head,
        standards=tuple(entries),
        group_by=tuple(query.group_by),
        sites=tuple(Site(s, *site_info(s)) for s in sites),
        generated_at=now.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
    )


def _all_ids(standards: StandardSet, with_clocks: list[str]) -> list[str]:
    """Every standard in force (file order), then withdrawn ones that still have clocks in the period."""
    ids = [s.id for s in standards.standards]
    return ids + sorted(s for s in with_clocks if s not in ids)


def site_namer(config) -> SiteNamer:
    """Names and zones from ``config.sites``; a site not declared there is its id in ``default_timezone``."""

    def info(site: str) -> tuple[str, str]:
        known = config.sites.get(site)
        if known:
            return known.name, known.timezone.key
        return site, config.default_timezone.key

    return info
