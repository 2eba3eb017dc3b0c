"""Figure 8: ``python -m monitor audit verify`` over a month of a large chain, 100,000 and 1,000,000 clocks.

The data is what the service stores, made by the service's own ingestion door and scheduler in
process (``Ingestor.ingest``, batches of 1,000 events in time order, each received at its newest
event's time, the scheduler stepping along; no MQTT): a month of table visits and queue tickets
at 20 sites — each table a ``seated``/``greeted`` pair (greet, 2 minutes; about 3 % never greeted,
so their breach and escalations open at once) and two drink orders served (drinks, one clock per
``order_id``), each ticket ``ticket_issued``/``ticket_called`` (call-ticket, sometimes paused for
documents) — and, half-way through the month, a new version of greet (``within: 3m``), so the
check judges clocks under two versions. Every row is chained: 2 events per clock.

The figure is the wall time of the auditor's command, ``python -m monitor audit verify --json``, in
its own process (the chain re-hashed, then every clock derived again and every alert compared with
its chained actions), with the peak resident memory of that process; the reference is the chain
check alone (``monitor.store.audit.verify``, what verify did before the figures were checked) in
a process of its own. The first tenth of the month (100,000 clocks) is measured first, then the
same database grows to the whole month (1,000,000). ``--quick``: 4,000 and 40,000.
"""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

from bench.common import bench_database, Context, progress, Result, standards_dir
from tests.harness.database import Db
from tests.harness.service import ROOT

NAME = "verify"
SITES = 20
GREET_V2 = "    within: 3m\n"


def _runtime(url: str, standards, installed: datetime):
    from monitor.config import Config
    from monitor.runtime import Runtime

    config = Config.load(os.devnull, environ={}, overrides={
        "database": {"url": url}, "standards": {"dir": str(standards)}, "mqtt": {"enabled": False}})
    runtime = Runtime(config)
    runtime.db.upgrade()
    runtime.registry.import_directory(now=installed)  # the service was installed before the month began
    return runtime


def _unit(i: int, total: int, base: datetime, span: timedelta) -> list[dict]:
    """Table visit and queue ticket number ``i`` of ``total`` (in start order over the span): 4 clocks."""
    rng = random.Random(i)
    at = base + span * ((i + rng.random() * 0.5) / total)
    site = f"s{i % SITES:02d}"
    table, ticket = f"{site}/T{i % 40}/{i}", f"{site}/Q/{i}"
    events = [{"id": f"v{i}-s", "case": table, "type": "seated", "at": at, "site": site, "staff": f"staff-{i % 50}"}]
    if rng.random() > 0.03:
        events.append({"id": f"v{i}-g", "case": table, "type": "greeted", "at": at + timedelta(
            seconds=rng.uniform(10, 200)), "site": site})
    for order in ("A", "B"):
        ordered = at + timedelta(minutes=3, seconds=rng.uniform(0, 300))
        events.append({"id": f"v{i}-o{order}", "case": table, "type": "drink_ordered", "at": ordered, "site": site,
                       "attrs": {"order_id": order}})
        events.append({"id": f"v{i}-d{order}", "case": table, "type": "drink_served", "site": site,
                       "at": ordered + timedelta(seconds=rng.uniform(30, 400)), "attrs": {"order_id": order}})
    issued = at + timedelta(seconds=rng.uniform(0, 600))
    events.append({"id": f"q{i}-i", "case": ticket, "type": "ticket_issued", "at": issued, "site": site})
    if rng.random() < 0.1:
        events.append({"id": f"q{i}-p", "case": ticket, "type": "docs_requested", "site": site,
                       "at": issued + timedelta(minutes=2)})
        events.append({"id": f"q{i}-r", "case": ticket, "type": "docs_received", "site": site,
                       "at": issued + timedelta(minutes=6)})
    events.append({"id": f"q{i}-c", "case": ticket, "type": "ticket_called", "site": site,
                   "at": issued + timedelta(seconds=rng.uniform(60, 900))})
    return events


def _load(runtime, first: int, last: int, total: int, base: datetime, span: timedelta, version_at: datetime,
          standards_text: str) -> None:
    """Units ``first``..``last`` as the floor would send them: in time order, each batch received at its
    newest event's time, the scheduler stepping along (warnings, breaches, escalations open when due),
    and greet's version 2 saved when the month is half-way through."""
    import heapq

    from monitor.ingest import Delivery

    started = shown = time.monotonic()
    waiting: list[tuple[datetime, int, dict]] = []  # events not yet sent, by time
    batch: list[dict] = []
    saved = runtime.registry.current.get("greet").version > 1
    sent = 0

    def send(now: datetime) -> None:
        nonlocal sent
        body = json.dumps([{**e, "at": e["at"].isoformat()} for e in batch]).encode()
        [outcome] = runtime.ingestor.ingest([Delivery(body, "bench:verify", default_site="s00")], now=now)
        if outcome.rejected:
            raise RuntimeError(f"the benchmark's events were refused: {outcome.rejected[:3]}")
        while runtime.scheduler.step(now) >= runtime.scheduler.batch:
            pass
        sent += len(batch)
        batch.clear()

    def release(until: datetime) -> None:
        nonlocal saved
        while waiting and waiting[0][0] <= until:
            at, _, event = heapq.heappop(waiting)
            if not saved and at > version_at:
                if batch:
                    send(batch[-1]["at"])
                runtime.registry.save("floor.yaml", standards_text.replace("    within: 2m\n", GREET_V2, 1),
                                      "bench", now=version_at)
                saved = True
            batch.append(event)
            if len(batch) >= 1000:
                send(at)

    serial = 0
    for i in range(first, last):
        events = _unit(i, total, base, span)
        for event in events:
            serial += 1
            heapq.heappush(waiting, (event["at"], serial, event))
        release(events[0]["at"])  # every later unit starts after this one: what is due can go
        if time.monotonic() - shown > 10:
            shown = time.monotonic()
            progress(f"loading: {(i + 1) * 4:,} of {last * 4:,} clocks, {sent:,} events "
                     f"({(i + 1 - first) * 4 / (shown - started):,.0f} clocks/s)")
    release(datetime.max.replace(tzinfo=timezone.utc))
    if batch:
        send(batch[-1]["at"])
    progress(f"loaded {(last - first) * 4:,} clocks ({sent:,} events) in {time.monotonic() - started:.0f}s")


def _timed(args: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Wall seconds, peak resident memory (bytes, sampled every 0.2 s) and standard output of a child."""
    import psutil

    started = time.perf_counter()
    child = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watched, peak = psutil.Process(child.pid), 0
    while child.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss)
        except psutil.Error:
            break
        time.sleep(0.2)
    out, err = child.communicate()
    seconds = time.perf_counter() - started
    if child.returncode not in (0, 1):
        raise RuntimeError(f"{args[-2:]} failed ({child.returncode}): {err[-800:]}")
    return seconds, peak, out


CHAIN_ONLY = ("import json, os, sys; from monitor.store import audit; from monitor.store.db import Database; "
              "db = Database(os.environ['MONITOR_DATABASE_URL']); r = audit.verify(db); print(json.dumps(r.to_json()))")


def _measure(url: str, kind: str, clocks: int, events: int) -> list[Result]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")},
           "MONITOR_CONFIG": os.devnull, "MONITOR_DATABASE_URL": url}
    chain_s, chain_rss, chain_out = _timed([sys.executable, "-c", CHAIN_ONLY], env)
    progress(f"chain alone [{kind}]: {chain_s:.1f}s, peak RSS {chain_rss / 2**20:.0f} MiB")
    seconds, rss, out = _timed([sys.executable, "-m", "monitor", "audit", "verify", "--json"], env)
    body = json.loads(out)
    progress(f"audit verify [{kind}] at {clocks:,} clocks: {seconds:.1f}s, peak RSS {rss / 2**20:.0f} MiB, "
             f"ok={body['ok']}, {body['records']:,} links")
    note = (f"{body['records']:,} links ({events:,} events), ok={body['ok']}"
            + ("" if body["ok"] else f": {body['first_broken']}") + f"; peak RSS {rss / 2**20:.0f} MiB "
            f"(chain alone {chain_rss / 2**20:.0f} MiB); {seconds / clocks * 1e6:.0f} µs a clock")
    return [Result(f"8. audit verify, {clocks / 1e6:g} M clocks [{kind}]", seconds, "s", chain_s,
                   "chain alone (re-hash, no figures)", "streams (flat memory)", None, note)]


def run(ctx: Context) -> list[Result]:
    results = []
    total = ctx.size(10_000, 250_000)  # 4 clocks a unit: 1,000,000 clocks over the month
    stages = [total // 10, total]      # the first tenth of the month (100,000 clocks), then all of it
    now = datetime.now(timezone.utc).replace(microsecond=0)
    span = timedelta(days=30)
    base = now - span - timedelta(days=1)
    installed = base - timedelta(days=1)
    for kind in ctx.dbs:
        url = bench_database(ctx, kind, f"verify-{kind}")
        standards = standards_dir(ctx.workdir)
        text = (standards / "floor.yaml").read_text(encoding="utf-8")  # greet's file
        runtime = _runtime(url, standards, installed)
        db = Db(url)
        try:
            loaded = 0
            for stage in stages:
                _load(runtime, loaded, stage, total, base, span, base + span / 2, text)
                loaded = stage
                db.analyze()
                clocks = db.scalar("SELECT count(*) FROM clocks")
                events = db.scalar("SELECT count(*) FROM events")
                results += _measure(url, kind, clocks, events)
        finally:
            runtime.db.dispose()
            db.dispose()
    return results
