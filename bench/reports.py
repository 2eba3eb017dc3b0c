"""Figure 4: compliance report over 1,000,000 clocks, grouped by site and by day.

Clocks are bulk-loaded straight into the ``clocks`` table (COPY on PostgreSQL, executemany on
SQLite): three standards (greet, drinks, call-ticket), 20 sites, starts spread over 90 days, ~80 %
met, 12 % missed, 3 % cancelled, 3 % breached, 2 % running, 1 % with a data gap. The figure is the
time of ``GET /api/v1/reports/compliance?from=&to=&group_by=site|day`` on the running service
(SPEC §6/§7); the reference is one plain SQL ``GROUP BY`` over the same rows computing the counts,
mean and max (no percentiles), run by the benchmark itself. ``--full`` adds 9,000,000 more clocks
on PostgreSQL and measures again (growth at 10 M).
"""
from __future__ import annotations

import random
import time
from datetime import datetime, timedelta, timezone

from bench.common import (bench_broker, bench_service, bulk_load, check_columns, CLOCK_COLUMNS, Context, Profiler,
                          progress, Result)
from tests.harness.database import Db
from tests.harness.service import Service

NAME = "reports"
TARGET_S = 5.0
SPAN = timedelta(days=90)
STANDARDS = (("greet", 120, 90), ("drinks", 240, None), ("call-ticket", 600, None))
SITES = 20


def _clocks(start: int, n: int, base: datetime, now: datetime):
    """Clock rows ``start``..``start+n``; starts spread evenly over SPAN (golden-ratio sequence)."""
    rng = random.Random(start)
    for i in range(start, start + n):
        standard, within, warn = STANDARDS[i % 3]
        at = base + SPAN * ((i * 0.6180339887498949) % 1.0)
        deadline = at + timedelta(seconds=within)
        roll = rng.random()
        duration = stop = cancelled = None
        if roll < 0.80:
            state, duration = "met", rng.uniform(5, within)
        elif roll < 0.92:
            state, duration = "missed", rng.uniform(within, within * 3)
        elif roll < 0.95:
            state, cancelled = "cancelled", at + timedelta(seconds=rng.uniform(5, within))
        elif roll < 0.98:
            state = "breached"
        else:
            state = "running"
        if duration is not None:
            stop = at + timedelta(seconds=duration)
        yield (standard, 1, f"rep/{i}", "1" if standard == "drinks" else "", f"s{i % SITES:02d}", f"staff-{i % 50}",
               state, f"rep-{i}", at, at.strftime("%Y-%m-%d %H:%M:%S"), deadline,
               at + timedelta(seconds=warn) if warn else None, stop, cancelled, None, duration, rng.random() < 0.01,
               None, now)


REFERENCE_SQL = """
SELECT standard_id, {group} AS g,
       SUM(CASE WHEN state = 'met' AND NOT data_gap THEN 1 ELSE 0 END),
       SUM(CASE WHEN state = 'missed' AND NOT data_gap THEN 1 ELSE 0 END),
       SUM(CASE WHEN state = 'breached' AND NOT data_gap THEN 1 ELSE 0 END),
       SUM(CASE WHEN state = 'cancelled' THEN 1 ELSE 0 END),
       SUM(CASE WHEN data_gap THEN 1 ELSE 0 END),
       AVG(duration_s), MAX(duration_s)
FROM clocks WHERE start_at >= :lo AND start_at < :hi
GROUP BY standard_id, {group}
"""


def _reference(db: Db, group: str, lo: datetime, hi: datetime) -> tuple[float, int]:
    expression = "site" if group == "site" else "substr(start_local, 1, 10)"
    sql = REFERENCE_SQL.format(group=expression)
    params = {"lo": lo.replace(tzinfo=None), "hi": hi.replace(tzinfo=None)}
    if db.kind == "sqlite":
        params = {k: v.strftime("%Y-%m-%d %H:%M:%S.%f") for k, v in params.items()}
    started = time.perf_counter()
    rows = db.rows(sql, **params)
    return time.perf_counter() - started, len(rows)


def _report(service: Service, group: str, lo: datetime, hi: datetime) -> tuple[float | None, str]:
    params = {"from": lo.isoformat().replace("+00:00", "Z"), "to": hi.isoformat().replace("+00:00", "Z"),
              "group_by": group, "format": "json"}
    started = time.perf_counter()
    response = service.api("GET", "/reports/compliance", params=params, timeout=600)
    seconds = time.perf_counter() - started
    if response.status_code != 200:
        return None, f"HTTP {response.status_code}: {response.text[:160]!r}"
    try:
        body = response.json()
        rows = sum(len(s.get("rows", [])) for s in body.get("standards", []))
    except (ValueError, AttributeError, TypeError):
        return seconds, "answered 200 but not the SPEC's JSON shape"
    return seconds, f"{rows:,} rows in {len(response.content):,} bytes"


def _measure(db: Db, service: Service, kind: str, label: str, lo: datetime, hi: datetime,
             target: bool, profile_dir=None) -> list[Result]:
    out = []
    for group in ("site", "day"):
        reference, ref_rows = _reference(db, group, lo, hi)
        _reference(db, group, lo, hi)  # warm the cache for both, then time the report
        reference, ref_rows = min((reference, ref_rows), _reference(db, group, lo, hi))
        with Profiler(profile_dir, service.pid, f"report-{label.replace(' ', '')}-{group}-{kind}", db_url=db.url):
            seconds, note = _report(service, group, lo, hi)
        progress(f"report {label} group_by={group} [{kind}]: "
                 f"{'n/a' if seconds is None else f'{seconds:.2f}s'} ({note}); plain SQL {reference:.2f}s")
        out.append(Result(f"4. report {label} group_by={group} [{kind}]", seconds, "s", reference,
                          f"plain SQL GROUP BY, {ref_rows:,} groups", f"<= {TARGET_S:.0f} s" if target else "growth",
                          (seconds is not None and seconds <= TARGET_S) if target else None, note))
    return out


def run(ctx: Context) -> list[Result]:
    results = []
    n = ctx.size(20_000, 1_000_000)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    base = now - SPAN - timedelta(days=1)
    lo, hi = (base - timedelta(days=1)).replace(tzinfo=timezone.utc), now.replace(tzinfo=timezone.utc)
    for kind in ctx.dbs:
        with bench_broker(ctx) as broker, bench_service(ctx, broker, kind, f"reports-{kind}") as (service, db):
            check_columns(db.url, "clocks", CLOCK_COLUMNS)
            bulk_load(db.url, "clocks", CLOCK_COLUMNS, _clocks(0, n, base, now), n, f"{n:,} clocks ({kind})")
            results += _measure(db, service, kind, f"{n / 1e6:g} M clocks", lo, hi, True, ctx.profile_dir)
            if kind == "postgresql" and ctx.full:
                more = 10_000_000 - n
                bulk_load(db.url, "clocks", CLOCK_COLUMNS, _clocks(n, more, base, now), more,
                          f"{more:,} more clocks ({kind})")
                results += _measure(db, service, kind, "10 M clocks", lo, hi, False, ctx.profile_dir)
    if "postgresql" in ctx.dbs and not ctx.full:
        results.append(Result("4. report 10 M clocks [postgresql]", None, "s",
                              note="skipped: pass --full to load 10,000,000 clocks and show the growth"))
    return results
