"""Figure 3: alert lag, ``opened_at − due_at`` of breach alerts, with many clocks open.

One service per database. First a small run (300 clocks falling due over 5 s, nothing else open:
the figure issue #3 needs), then 100,000 ``job_opened`` clocks with a 7-day deadline are ingested
(batches of 100 over MQTT) and 20,000 ``ticket_issued`` clocks (``call-ticket``: 10 min, no
warning, no escalation) are ingested with ``at`` chosen so that their deadlines fall due evenly over
10 s, starting only after their ingestion has finished (a clock that arrives already due would
measure ingestion, not the scheduler). A 200-clock warm-up and, on PostgreSQL, an ANALYZE come
first (see Db.analyze). Lags are read from the alerts table ("opened−due": ``opened_at`` is the
scheduler step's ``now``, so it shows how late the step started) and from the SSE stream
("SSE−due": the time the frame reached the benchmark − due_at, so evaluation, commit and fan-out
are included). The small run uses 300 clocks over 5 s (200 over 3 s with --quick).
"""
from __future__ import annotations

import time

from bench.common import (bench_broker, bench_service, BenchError, Context, FilePublisher, payload_file, percentile,
                          Profiler, progress, Result, to_datetime)
from tests.harness.database import Db
from tests.harness.mosquitto import Mosquitto
from tests.harness.service import Service, SseReader, wait_count

NAME = "alerts"
TARGET_P99_MS = 250.0
WITHIN_S = 600.0  # call-ticket's ``within``


def _warm(ctx: Context, broker: Mosquitto, db: Db, service: Service) -> None:
    """200 far-deadline clocks, then fresh planner statistics (see Db.analyze)."""
    path, messages = payload_file(ctx.workdir, "lag-warm", 200, 100, "job_opened")
    FilePublisher(broker.url, path, messages).wait(60)
    wait_count(db, "SELECT count(*) FROM clocks", 200, 60, "warm-up", service)
    db.analyze()


def _lag_run(ctx: Context, broker: Mosquitto, db: Db, service: Service, sse: SseReader, name: str, due_n: int,
             spread: float, rate_guess: float, clocks_before: int) -> dict:
    """Ingest ``due_n`` clocks falling due over ``spread`` seconds, then collect their breach lags."""
    lead = due_n / max(rate_guess, 100.0) * 1.5 + (1.5 if ctx.quick else 3.0)
    first_due = time.time() + lead
    path, messages = payload_file(ctx.workdir, name, due_n, 100, "ticket_issued", at_base=first_due - WITHIN_S,
                                  at_spread=spread)
    progress(f"{name}: ingesting {due_n:,} clocks due from {lead:.1f}s from now, over {spread:.0f}s")
    publisher = FilePublisher(broker.url, path, messages)
    stored_at, _ = wait_count(db, "SELECT count(*) FROM clocks", clocks_before + due_n, lead + 60, f"{name} stored",
                              service)
    publisher.wait(30)
    early = first_due - stored_at
    progress(f"{name}: all stored {early:.1f}s before the first one falls due")
    like = f"{name}/%"
    with Profiler(ctx.profile_dir, service.pid, f"scheduler-{name}", db_url=db.url):
        time.sleep(max(0.0, first_due - time.time()))
        wait_count(db, f"SELECT count(*) FROM alerts WHERE kind = 'breach' AND case_id LIKE '{like}'", due_n,
                   spread + 60, f"{name} breaches opened", service, interval=0.25)
    time.sleep(0.5 if ctx.quick else 1.0)  # let the SSE stream catch up
    rows = db.rows("SELECT due_at, opened_at FROM alerts WHERE kind = 'breach' AND case_id LIKE :like", like=like)
    table_lags = [(to_datetime(o) - to_datetime(d)).total_seconds() * 1000 for d, o in rows]
    stream_lags = []
    for frame in list(sse.frames):
        alert = frame.data
        ours = alert.get("case", "").startswith(f"{name}/")
        if ours and alert.get("kind") == "breach" and alert.get("state") == "open":
            stream_lags.append((frame.received_at - to_datetime(alert["due_at"].replace("Z", "+00:00")).timestamp()) * 1000)
    late = sum(1 for d, _ in rows if to_datetime(d).timestamp() < stored_at)
    return {"table": table_lags, "stream": stream_lags, "opened": len(rows), "late": late, "early_s": early,
            "expected": due_n}


def _results(kind: str, label: str, run: dict, reference: dict | None) -> list[Result]:
    out = []
    for source, what in (("table", "opened−due"), ("stream", "SSE−due")):
        lags = run[source]
        for share, tag in ((0.5, "p50"), (0.99, "p99"), (1.0, "max")):
            value = percentile(lags, share)
            ref = percentile(reference[source], share) if reference else None
            is_target = source == "table" and tag == "p99" and reference is not None
            note = ""
            if tag == "p50":
                note = (f"{len(lags):,} of {run['expected']:,} breaches" +
                        (f"; {run['late']:,} clocks were ingested after their due time" if run["late"] else ""))
            out.append(Result(f"3. alert lag {label}: {what} {tag} [{kind}]", value, "ms", ref,
                              "small run" if ref is not None else "",
                              f"<= {TARGET_P99_MS:.0f} ms" if is_target else "",
                              (value is not None and value <= TARGET_P99_MS and len(lags) >= run["expected"])
                              if is_target else None, note))
    return out


def run(ctx: Context) -> list[Result]:
    results = []
    open_n = ctx.size(2_000, 100_000)
    due_n = ctx.size(500, 20_000)
    spread = ctx.size(3, 10)
    small_n = ctx.size(200, 300)
    small_spread = ctx.size(3, 5)
    for kind in ctx.dbs:
        with bench_broker(ctx) as broker, bench_service(ctx, broker, kind, f"alerts-{kind}") as (service, db):
            _warm(ctx, broker, db, service)
            sse = SseReader(service)
            try:
                small = _lag_run(ctx, broker, db, service, sse, f"small-{kind}", small_n, small_spread, 1000.0, 200)
                progress(f"seeding {open_n:,} open clocks with a 7-day deadline (batches of 100)")
                path, messages = payload_file(ctx.workdir, f"open-{kind}", open_n, 100, "job_opened")
                publisher = FilePublisher(broker.url, path, messages)
                reached, count = wait_count(db, "SELECT count(*) FROM clocks", 200 + small_n + open_n,
                                            max(120.0, open_n / 200), "open clocks stored", service, interval=0.5)
                if count < 200 + small_n + open_n:
                    raise BenchError(f"only {count - 200 - small_n:,} of {open_n:,} open clocks stored in time")
                seed_rate = open_n / (reached - publisher.t0)
                publisher.wait(30)
                progress(f"{open_n:,} open clocks stored at {seed_rate:,.0f} events/s")
                db.analyze()
                big = _lag_run(ctx, broker, db, service, sse, f"due-{kind}", due_n, spread, seed_rate,
                               200 + small_n + open_n)
            finally:
                sse.close()
        results += _results(kind, f"small run ({small_n} due/{small_spread} s)", small, None)
        results += _results(kind, f"{open_n // 1000}k open + {due_n // 1000 or due_n}{'k' if due_n >= 1000 else ''} "
                                  f"due/{spread} s", big, small)
    return results
