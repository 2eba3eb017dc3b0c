"""Figure 5: resident memory per open clock, and start-up time with a large database.

Memory: the service's RSS (psutil) after a 2,000-event warm-up, again after 100,000 ``job_opened``
events (each opens a clock with a 7-day deadline; batches of 100 over MQTT), and again after
100,000 events of a type no standard starts (the reference: what storing an event costs in RSS
when it opens no clock). Per clock = growth / 100,000.

Start-up: time from ``python -m monitor run`` to the first ``/healthz`` 200, on an empty migrated
database (the reference) and on one bulk-loaded with 1,000,000 events and 550,000 clocks of which
100,000 are open (450,000 closed cases of two events each, 100,000 open cases of one). The audit
chain is not filled for the bulk rows (start-up does not read it).
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from bench.common import (bench_broker, bench_database, bench_service, BenchError, bulk_load, check_columns,
                          CLOCK_COLUMNS, Context, EVENT_COLUMNS, FilePublisher, payload_file, progress, Result,
                          standards_dir)
from tests.harness.database import Db
from tests.harness.mosquitto import Mosquitto
from tests.harness.processes import HarnessError
from tests.harness.service import Service, wait_count

NAME = "memory"
TARGET_BYTES_PER_CLOCK = 1024.0
TARGET_READY_S = 10.0


def _settled_rss(service: Service, quick: bool) -> int:
    """RSS once the service is idle again (lowest of three samples)."""
    time.sleep(0.5 if quick else 2.0)
    return min(service.rss() for _ in range(3) if time.sleep(0.1 if quick else 0.3) is None)


def _ingest(ctx: Context, broker: Mosquitto, db: Db, service: Service, name: str, n: int, event_type: str,
            sql: str, target: int) -> None:
    path, messages = payload_file(ctx.workdir, name, n, 100, event_type)
    publisher = FilePublisher(broker.url, path, messages)
    reached, count = wait_count(db, sql, target, max(120.0, n / 200), f"{name} stored", service, interval=0.5)
    if count < target:
        raise BenchError(f"{name}: only {count:,} of {target:,} stored in time")
    progress(f"{name}: {n:,} events stored at {n / (reached - publisher.t0):,.0f} events/s")
    publisher.wait(30)


def memory(ctx: Context, kind: str) -> list[Result]:
    n = ctx.size(3_000, 100_000)
    warm = ctx.size(500, 2_000)
    with bench_broker(ctx) as broker, bench_service(ctx, broker, kind, f"memory-{kind}") as (service, db):
        _ingest(ctx, broker, db, service, f"mem-warm-{kind}", warm, "job_opened", "SELECT count(*) FROM clocks",
                warm)
        db.analyze()
        before = _settled_rss(service, ctx.quick)
        _ingest(ctx, broker, db, service, f"mem-open-{kind}", n, "job_opened", "SELECT count(*) FROM clocks",
                warm + n)
        middle = _settled_rss(service, ctx.quick)
        _ingest(ctx, broker, db, service, f"mem-noclock-{kind}", n, "bench_noise", "SELECT count(*) FROM events",
                warm + 2 * n)
        after = _settled_rss(service, ctx.quick)
    per_clock = (middle - before) / n
    per_event = (after - middle) / n
    mib = 1 << 20
    return [Result(f"5. RSS per open clock at {n:,} open [{kind}]", per_clock, "B", per_event or None,
                   "per event opening no clock", f"<= {TARGET_BYTES_PER_CLOCK:.0f} B",
                   None if ctx.quick else per_clock <= TARGET_BYTES_PER_CLOCK,
                   f"RSS {before / mib:.0f} MiB after warm-up, {middle / mib:.0f} MiB with {n:,} open clocks, "
                   f"{after / mib:.0f} MiB after {n:,} more events without clocks"
                   + ("; --quick: too few clocks to judge the target (the growth is mostly one-off)"
                      if ctx.quick else ""))]


def _generated(now: datetime, open_n: int, closed_n: int):
    """Rows for the events and clocks tables: ``closed_n`` met cases (2 events) and ``open_n`` open ones."""
    base = now - timedelta(days=30)

    def events():
        for i in range(closed_n):
            at = base + timedelta(seconds=i * 2)
            yield (f"gen-c{i}-o", f"gen/c{i}", "job_opened", at, "bench", "gen", "s1", {"table": i % 40}, at, "gen")
            yield (f"gen-c{i}-c", f"gen/c{i}", "job_closed", at + timedelta(hours=1), "bench", "gen", "s1",
                   {"table": i % 40}, at, "gen")
        for i in range(open_n):
            at = now - timedelta(hours=1) + timedelta(milliseconds=i)
            yield (f"gen-o{i}", f"gen/o{i}", "job_opened", at, "bench", "gen", "s1", {"table": i % 40}, at, "gen")

    def clocks():
        for i in range(closed_n):
            at = base + timedelta(seconds=i * 2)
            yield ("bench-job", 1, f"gen/c{i}", "", "bench", "s1", "met", f"gen-c{i}-o", at,
                   at.strftime("%Y-%m-%d %H:%M:%S"), at + timedelta(days=7), None, at + timedelta(hours=1), None, None,
                   3600.0, False, None, now)
        for i in range(open_n):
            at = now - timedelta(hours=1) + timedelta(milliseconds=i)
            deadline = at + timedelta(days=7)
            yield ("bench-job", 1, f"gen/o{i}", "", "bench", "s1", "running", f"gen-o{i}", at,
                   at.strftime("%Y-%m-%d %H:%M:%S"), deadline, None, None, None, None, None, False, deadline, now)

    return events, clocks


def startup(ctx: Context, kind: str) -> list[Result]:
    open_n = ctx.size(3_000, 100_000)
    events_n = ctx.size(30_000, 1_000_000)
    closed_n = (events_n - open_n) // 2
    with bench_broker(ctx) as broker:
        url = bench_database(ctx, kind, f"startup-{kind}")
        standards = standards_dir(ctx.workdir)

        def ready_time(label: str) -> float:
            service = Service(ctx.workdir, broker.url, url, name=f"startup-{label}-{kind}", standards=standards)
            try:
                seconds = service.start(wait_healthy=False).wait_ready(timeout=300)
            finally:
                service.stop()
            progress(f"start to ready, {label}: {seconds:.2f}s")
            return seconds

        from monitor.store.db import Database

        database = Database(url)  # migrate first, so the reference is a start on a migrated empty database
        database.upgrade()
        database.dispose()
        empty = ready_time("empty")
        check_columns(url, "events", EVENT_COLUMNS)
        check_columns(url, "clocks", CLOCK_COLUMNS)
        events, clocks = _generated(datetime.now(timezone.utc).replace(tzinfo=None), open_n, closed_n)
        bulk_load(url, "events", EVENT_COLUMNS, events(), closed_n * 2 + open_n, "events")
        bulk_load(url, "clocks", CLOCK_COLUMNS, clocks(), closed_n + open_n, "clocks")
        loaded = ready_time(f"{closed_n * 2 + open_n:,} events, {open_n:,} open clocks")
    return [Result(f"5. start to ready, {closed_n * 2 + open_n:,} events / {open_n:,} open clocks [{kind}]", loaded,
                   "s", empty, "empty database", f"<= {TARGET_READY_S:.0f} s", loaded <= TARGET_READY_S)]


def run(ctx: Context) -> list[Result]:
    results = []
    for kind in ctx.dbs:
        for label, part in (("memory per open clock", memory), ("start-up time", startup)):
            progress(f"{label}, {kind}")
            try:
                results += part(ctx, kind)
            except HarnessError as exc:  # BenchError too: report it and go on with the other part
                progress(f"{label} ({kind}) could not run: {exc}")
                why = str(exc).splitlines()[0]
                results.append(Result(f"5. {label} [{kind}]", None, "", note=f"did not run: {why}"))
    return results
