"""Figures 1 and 2: MQTT ingestion throughput, publish → stored and evaluated.

Each measurement gets its own throwaway Mosquitto and a fresh database. First the reference: a bare
paho QoS 1 subscriber counts the stream; then the real service (``python -m monitor run``) takes
the same stream and the benchmark polls the ``clocks`` table until every event has its clock
(each event is a ``job_opened`` start event of its own case, so stored-and-evaluated is visible as
one clock row per event). Rate = events / (last clock visible − first publish).
"""
from __future__ import annotations

from bench.common import (bench_broker, bench_database, bench_service, BenchError, Context, CountingSubscriber,
                          FilePublisher, payload_file, Profiler, progress, Result, standards_dir)
from tests.harness.database import Db
from tests.harness.mosquitto import Mosquitto
from tests.harness.service import wait_count, Workers

NAME = "ingest"
SINGLE_TARGET_RATIO = 0.5
BATCH_TARGET = 40_000.0
WARM = 200
WORKERS = (2, 3)  # processes on one shared subscription (PostgreSQL: SQLite serialises writers)


def reference_rate(ctx: Context, broker: Mosquitto, name: str, events: int, batch: int) -> float:
    path, messages = payload_file(ctx.workdir, f"{name}-ref", events, batch)
    counter = CountingSubscriber(broker.url, messages, timeout=max(60.0, events / 500))
    publisher = FilePublisher(broker.url, path, messages)
    publisher.wait(timeout=max(60.0, events / 500))
    seen = counter.result(timeout=max(60.0, events / 500))
    if not seen["ok"]:
        raise BenchError(f"reference subscriber saw {seen['messages']}/{messages} messages")
    rate = events / (seen["last"] - publisher.t0)
    progress(f"reference ({name}): bare paho subscriber counted {events:,} events in {messages:,} messages "
             f"at {rate:,.0f} events/s (publisher done at {events / (publisher.t1 - publisher.t0):,.0f}/s)")
    return rate


def service_rate(ctx: Context, broker: Mosquitto, kind: str, name: str, events: int, batch: int) -> tuple[float, dict]:
    with bench_service(ctx, broker, kind, name, note=f"; warming up with {WARM} events") as (service, db):
        warm_path, warm_messages = payload_file(ctx.workdir, f"{name}-warm", WARM, min(batch, 100))
        FilePublisher(broker.url, warm_path, warm_messages).wait(60)
        wait_count(db, "SELECT count(*) FROM clocks", WARM, 60, "warm-up", service)
        db.analyze()
        batches_before = (service.metric("smartmon_ingest_batch_messages_sum") or 0,
                          service.metric("smartmon_ingest_batch_messages_count") or 0)
        path, messages = payload_file(ctx.workdir, name, events, batch)
        sql = "SELECT count(*) FROM clocks"
        with Profiler(ctx.profile_dir, service.pid, name, db_url=db.url):
            publisher = FilePublisher(broker.url, path, messages)
            reached, count = wait_count(db, sql, events + WARM, max(120.0, events / 300), f"{name} ({kind}) stored",
                                        service)
            publisher.wait(60)
        stored = count - WARM
        rate = stored / (reached - publisher.t0)
        messages_in = (service.metric("smartmon_ingest_batch_messages_sum") or 0) - batches_before[0]
        transactions = (service.metric("smartmon_ingest_batch_messages_count") or 0) - batches_before[1]
        extra = {"publisher_rate": events / (publisher.t1 - publisher.t0), "stored": stored, "ready_s": service.ready_s,
                 "per_transaction": messages_in / transactions if transactions else None,
                 "reconnects": service.log_count("MQTT connection lost"),
                 "duplicates": service.metric("smartmon_events_duplicate_total")}
        progress(f"service ({kind}): {stored:,}/{events:,} events stored and evaluated at {rate:,.0f} events/s "
                 f"(the broker took them at {extra['publisher_rate']:,.0f}/s)")
        return rate, extra


def workers_rate(ctx: Context, broker: Mosquitto, name: str, events: int, count: int) -> float:
    """Batches of 100 into ``count`` worker processes sharing one subscription, on PostgreSQL."""
    url = bench_database(ctx, "postgresql", name)
    workers = Workers(ctx.workdir, url, broker.url, standards_dir(ctx.workdir), name, count)
    db = Db(url)
    try:
        workers.start()
        warm_path, warm_messages = payload_file(ctx.workdir, f"{name}-warm", WARM * count, 100)
        FilePublisher(broker.url, warm_path, warm_messages).wait(60)
        wait_count(db, "SELECT count(*) FROM clocks", WARM * count, 60, "warm-up")
        db.analyze()
        path, messages = payload_file(ctx.workdir, name, events, 100)
        publisher = FilePublisher(broker.url, path, messages)
        reached, stored = wait_count(db, "SELECT count(*) FROM clocks", events + WARM * count,
                                     max(120.0, events / 300), f"{name} stored")
        publisher.wait(60)
        stored -= WARM * count
        if stored < events:
            raise BenchError(f"only {stored:,} of {events:,} events stored in time")
        rate = stored / (reached - publisher.t0)
        progress(f"{count} workers (postgresql): {stored:,} events stored and evaluated at {rate:,.0f} events/s")
        return rate
    finally:
        workers.stop()
        db.dispose()


def _per_transaction(extra: dict) -> str:
    value = extra.get("per_transaction")
    text = "messages per ingest transaction: " + ("n/a" if value is None else f"{value:.1f} on average")
    if extra.get("reconnects"):
        text += (f"; the service lost its MQTT connection {extra['reconnects']} time(s) (see its log) and "
                 f"{extra.get('duplicates') or 0:,.0f} redelivered events were dropped as duplicates")
    return text


def _against_reference(ctx: Context, kind: str, name: str, events: int, batch: int) -> tuple[float, float, dict, str]:
    """The bare subscriber's rate, then the service's, on one broker; and a TIMEOUT note if short."""
    with bench_broker(ctx) as broker:
        reference = reference_rate(ctx, broker, name, events, batch)
        rate, extra = service_rate(ctx, broker, kind, name, events, batch)
    short = "" if extra["stored"] >= events else f"TIMEOUT: only {extra['stored']:,} of {events:,} stored; "
    return reference, rate, extra, short


def run(ctx: Context) -> list[Result]:
    results = []
    single_n = ctx.size(2_000, 50_000)
    batch_n = ctx.size(10_000, 200_000)
    for kind in ctx.dbs:
        progress(f"1. single-event messages, {single_n:,} events, {kind}")
        reference, rate, extra, short = _against_reference(ctx, kind, f"single-{kind}", single_n, 1)
        results.append(Result(
            f"1. ingest single-event QoS 1 [{kind}]", rate, "ev/s", reference, "bare paho counter",
            f"ratio >= {SINGLE_TARGET_RATIO}", not short and rate / reference >= SINGLE_TARGET_RATIO,
            short + f"{single_n:,} events; mosquitto_pub done at {extra['publisher_rate']:,.0f} ev/s; "
            + _per_transaction(extra)))
        progress(f"2. batches of 100 events, {batch_n:,} events, {kind}")
        reference, rate, extra, short = _against_reference(ctx, kind, f"batch-{kind}", batch_n, 100)
        results.append(Result(
            f"2. ingest batches of 100 [{kind}]", rate, "ev/s", reference, "bare paho counter",
            f">= {BATCH_TARGET:,.0f} ev/s", not short and rate >= BATCH_TARGET,
            short + f"{batch_n:,} events in {batch_n // 100:,} messages; " + _per_transaction(extra)))
        if kind == "postgresql":
            for count in WORKERS:
                with bench_broker(ctx) as broker:
                    progress(f"2. batches of 100 into {count} worker processes, {batch_n:,} events")
                    workers = workers_rate(ctx, broker, f"workers{count}", batch_n, count)
                results.append(Result(
                    f"2. ingest batches of 100, {count} workers [postgresql]", workers, "ev/s", rate,
                    "one process (above)", f">= {BATCH_TARGET:,.0f} ev/s", workers >= BATCH_TARGET,
                    f"`monitor worker` × {count} on a shared subscription, on this machine's cores"))
    return results
