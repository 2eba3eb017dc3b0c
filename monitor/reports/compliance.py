"""The compliance report as one JSON-ready document; every export (CSV, XLSX, PDF) renders it.

Document (SPEC §6/§7, plus what an auditor needs to read it on its own)::

    {"from", "to", "chain_head", "standards": [
        {"standard", "versions", "goal_ratio", "rows": [{…group keys, "met", "missed", "breached",
          "cancelled", "data_gap", "compliance", "mean_s", "p50_s", "p90_s", "p95_s", "max_s", "goal_met"}],
         "name", "file", "version_in_force", "goal_per",
         "total": {…one row over the whole period…},
         "periods": [{"period", "met", "missed", "breached", "cancelled", "data_gap", "compliance", "goal_met"}],
         "daily": [...same as periods, by local day; PDF only...]}],
     "group_by", "sites": [{"id", "name", "timezone"}], "generated_at"}

``goal_met`` is ``compliance >= goal.ratio`` (null when nothing was decided or the standard is
no longer in force); ``periods`` judges the goal per ``goal.per`` as the standard asks.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

from monitor.core.standards import Standard, StandardSet
from monitor.reports import aggregate
from monitor.reports.aggregate import Counts, GroupStats
from monitor.reports.params import ReportParamError, ReportQuery, format_bound
from monitor.store import audit
from monitor.store.db import Database

ROW_FIELDS = ("met", "missed", "breached", "cancelled", "data_gap", "compliance", "mean_s", "p50_s", "p90_s",
              "p95_s", "max_s", "goal_met")
SiteNamer = Callable[[str], tuple[str, str]]  # site id → (name, IANA timezone)


def goal_met(counts: Counts, ratio: float | None) -> bool | None:
    if ratio is None or counts.compliance is None:
        return None
    # counts.met / decided is the correctly rounded quotient, so an exact hit (19/20 vs 0.95) compares equal
    return counts.compliance >= ratio


def row_json(stats: GroupStats, ratio: float | None) -> dict[str, Any]:
    c = stats.counts
    return {**stats.keys, "met": c.met, "missed": c.missed, "breached": c.breached, "cancelled": c.cancelled,
            "data_gap": c.data_gap, "compliance": c.compliance, "mean_s": stats.mean_s, "p50_s": stats.p50_s,
            "p90_s": stats.p90_s, "p95_s": stats.p95_s, "max_s": stats.max_s, "goal_met": goal_met(c, ratio)}


def period_json(period: str, counts: Counts, ratio: float | None) -> dict[str, Any]:
    return {"period": period, "met": counts.met, "missed": counts.missed, "breached": counts.breached,
            "cancelled": counts.cancelled, "data_gap": counts.data_gap, "compliance": counts.compliance,
            "goal_met": goal_met(counts, ratio)}


def _empty(standard: str, keys: tuple[str, ...]) -> GroupStats:
    return GroupStats(standard, {k: None for k in keys}, Counts())


def build_report(db: Database, standards: StandardSet, query: ReportQuery, site_info: SiteNamer, *,
                 daily: bool = False, now: datetime | None = None) -> dict[str, Any]:
    """Run the aggregation (a handful of GROUP BY queries in one snapshot) and shape the document."""
    now = now or datetime.now(timezone.utc)
    with db.read_session() as session:
        for wanted in query.standards:
            if standards.get(wanted) is None and not aggregate.standard_has_clocks(session, wanted):
                raise ReportParamError("standard", f"standard: no standard {wanted!r} is in force or has clocks")
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
    periods_of: dict[str, list[dict[str, Any]]] = {}
    days_of: dict[str, list[dict[str, Any]]] = {}
    entries = []
    for standard_id in ids:
        standard = in_force.get(standard_id)
        ratio = standard.goal.ratio if standard else None
        for target, source in ((periods_of, periods), (days_of, days)):
            target[standard_id] = [period_json(p, c, ratio) for s, p, c in source if s == standard_id]
        own_rows = by_standard.get(standard_id, [])
        if not query.group_by and not own_rows:
            own_rows = [_empty(standard_id, ())]  # one row per standard, even when no clock started
        entry: dict[str, Any] = {
            "standard": standard_id,
            "versions": list(total_of[standard_id].versions) if standard_id in total_of else [],
            "goal_ratio": ratio,
            "rows": [row_json(r, ratio) for r in own_rows],
            "name": standard.name if standard else None,
            "file": standard.file if standard else None,
            "version_in_force": standard.version if standard else None,
            "goal_per": standard.goal.per if standard else None,
            "total": row_json(total_of.get(standard_id) or _empty(standard_id, ()), ratio),
            "periods": periods_of[standard_id],
        }
        if daily:
            entry["daily"] = days_of[standard_id]
        entries.append(entry)
    return {
        "from": format_bound(query.start),
        "to": format_bound(query.end),
        "chain_head": head,
        "standards": entries,
        "group_by": list(query.group_by),
        "sites": [{"id": s, "name": site_info(s)[0], "timezone": site_info(s)[1]} for s in sites],
        "generated_at": now.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }


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
