"""The staff tablet's poll: ``GET /tablet/state`` on a busy day, and what a tablet downloads.

In process (the web path alone, no broker): a restaurant of 40 tables with a day of visits in the
visit window — 16 touches each, through the nine standards — plus as many events of the day before
(outside the window: they must cost nothing), then the time of one poll as a tablet makes it
every 3 seconds, p50 and p95 over 50 polls. The page's weight is the HTML plus its script and
style sheet, uncompressed.
"""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

from bench.common import bench_database, Context, percentile, progress, Result
from monitor.app import create_app
from monitor.auth import create_token
from monitor.ingest import Delivery
from tests.harness.service import ROOT

NAME = "tablet"
PLACES = [f"T{n}" for n in range(1, 41)]
VISIT = ["seated", "greeted", "drink_ordered", "drink_served", "drink_check_done", "food_order_offered",
         "starter_ordered", "starter_served", "main_ordered", "main_served", "plates_cleared", "dessert_ordered",
         "dessert_served", "bill_presented", "payment_placed", "payment_collected"]
TARGET_MS = 100.0


def _day(start: datetime, visits: int, prefix: str) -> list[dict]:
    events = []
    for n in range(visits):
        place = PLACES[n % len(PLACES)]
        began = start + timedelta(seconds=n * 86_000 / visits)
        last = n >= visits - len(PLACES)  # each table's newest visit stays open (no payment yet)
        for step, kind in enumerate(VISIT[:-2] if last else VISIT):
            events.append({"id": f"{prefix}-{n}-{step}", "case": f"{place}/{prefix}-{n}", "type": kind,
                           "at": (began + timedelta(seconds=30 * step)).isoformat(), "site": "bj-01",
                           "attrs": {"place": place, "order_id": 1}})
    return events


def _measure(ctx: Context, kind: str) -> list[Result]:
    url = bench_database(ctx, kind, f"tablet-{kind}")
    app = create_app({"database": {"url": url}, "mqtt": {"enabled": False},
                      "standards": {"dir": str(ROOT / "standards")},
                      "sites": [{"id": "bj-01", "timezone": "Asia/Shanghai", "places": PLACES,
                                 "close_on": ["payment_collected", "left"]}]})
    runtime = app.extensions["smartmon"]
    visits = ctx.size(120, 1200)
    now = datetime.now(timezone.utc)
    events = _day(now - timedelta(hours=47), visits, "old") + _day(now - timedelta(hours=23, minutes=55), visits, "new")
    for first in range(0, len(events), 1000):
        runtime.ingestor.ingest([Delivery(json.dumps(events[first:first + 1000]).encode(), "bench", site="bj-01",
                                          device="tablet")], now=now)
    progress(f"{kind}: {len(events):,} events stored")
    with runtime.db.session() as session:
        secret = create_token(session, "device", ["bj-01"], "bench")[1]
    client = app.test_client()
    client.get(f"/tablet?token={secret}")
    page_bytes = len(client.get("/tablet").data) + sum(
        len(client.get(f"/assets/{name}").data) for name in ("tablet.js", "tablet.css"))
    times = []
    for _ in range(50):
        began = time.perf_counter()
        answer = client.get("/tablet/state")
        times.append((time.perf_counter() - began) * 1000)
        assert answer.status_code == 200 and sum(p is not None for p in answer.json["places"].values()) == len(PLACES)
    runtime.db.dispose()
    p50, p95 = percentile(times, 0.5), percentile(times, 0.95)
    note = f"{len(events) // 2:,} events in the window, as many before it"
    return [Result(f"/tablet/state p50, {kind}", p50, "ms", note=note),
            Result(f"/tablet/state p95, {kind}", p95, "ms", target=f"≤ {TARGET_MS:.0f} ms", met=p95 <= TARGET_MS),
            Result(f"page + script + styles, {kind}", page_bytes / 1024, "KiB")]


def run(ctx: Context) -> list[Result]:
    return [result for kind in ctx.dbs for result in _measure(ctx, kind)]
