"""Figure 7: the time from an alert's opening to its webhook delivery (SPEC §5.1).

One service per database, configured with one ``json`` webhook receiver: an ``http.server`` in
this process on loopback, timing each request as it arrives. 500 ``ticket_issued`` clocks
(``call-ticket``: 10 min, no warning, no escalation) are ingested over MQTT in batches of 100 with
``at`` chosen so that their deadlines fall due evenly over 5 s, after ingestion has finished. The
route groups by case with ``group_wait: 0s`` and ``group_interval: 0s``, so each breach is its own
message and the figure is the pipeline's own delay (scheduler commit → routing → message → POST);
a real route adds its ``group_wait`` on top. "opened→delivered" is the request's arrival − the
alert's ``opened_at`` (the scheduler step that opened it); "due→delivered" adds the scheduler's lag.
With ``--quick``: 200 alerts over 3 s.
"""
from __future__ import annotations

import time
from datetime import datetime

from bench.common import (bench_broker, bench_service, BenchError, Context, FilePublisher, payload_file, percentile,
                          progress, Result)
from tests.harness.receivers import HookServer
from tests.harness.service import wait_count

NAME = "notify"
WITHIN_S = 600.0  # call-ticket's ``within``
TARGET_P99_MS = 1000.0


def _epoch(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _measure(ctx: Context, kind: str, count: int, spread: float) -> dict:
    receiver = HookServer()
    config = ctx.workdir / f"notify-{kind}.yaml"
    config.write_text(f"""\
notify:
  receivers:
    - name: bench-hook
      webhook: {{url: "{receiver.url}", format: json, secret: bench}}
  routes:
    - receiver: bench-hook
      group_by: [case]
      group_wait: 0s
      group_interval: 0s
""", encoding="utf-8")
    try:
        with bench_broker(ctx) as broker, bench_service(ctx, broker, kind, f"notify-{kind}",
                                                             extra_env={"MONITOR_CONFIG": str(config)}) as (service, db):
            lead = count / 500 + (1.5 if ctx.quick else 3.0)
            first_due = time.time() + lead
            path, messages = payload_file(ctx.workdir, f"notify-{kind}", count, 100, "ticket_issued",
                                          at_base=first_due - WITHIN_S, at_spread=spread)
            progress(f"{kind}: ingesting {count} clocks due from {lead:.1f}s from now, over {spread:.0f}s")
            publisher = FilePublisher(broker.url, path, messages)
            stored_at, _ = wait_count(db, "SELECT count(*) FROM clocks", count, lead + 60, "clocks stored", service)
            publisher.wait(30)
            if stored_at > first_due:
                raise BenchError(f"ingestion took longer than the lead: clocks stored {stored_at - first_due:.1f}s after the first was due")
            deadline = first_due + spread + 60
            while len(receiver.arrivals()) < count and time.time() < deadline:
                time.sleep(0.1)
            arrivals = receiver.arrivals()
            delivered_log = db.scalar("SELECT count(*) FROM notifications WHERE state = 'delivered'")
    finally:
        receiver.close()
    return {"opened": [(t - _epoch(a["opened_at"])) * 1000 for t, a in arrivals.values()],
            "due": [(t - _epoch(a["due_at"])) * 1000 for t, a in arrivals.values()],
            "delivered": len(arrivals), "messages": len(receiver.hits), "logged": delivered_log, "expected": count}


def run(ctx: Context) -> list[Result]:
    count, spread = ctx.size(200, 500), ctx.size(3, 5)
    results = []
    for kind in ctx.dbs:
        run_ = _measure(ctx, kind, count, spread)
        for source, what in (("opened", "opened→delivered"), ("due", "due→delivered")):
            for share, tag in ((0.5, "p50"), (0.99, "p99"), (1.0, "max")):
                value = percentile(run_[source], share)
                is_target = source == "opened" and tag == "p99"
                note = ""
                if tag == "p50":
                    note = (f"{run_['delivered']} of {run_['expected']} alerts delivered in {run_['messages']} "
                            f"requests; {run_['logged']} messages logged as delivered")
                results.append(Result(f"7. webhook {what} {tag} [{kind}]", value, "ms", None, "",
                                      f"<= {TARGET_P99_MS:.0f} ms" if is_target else "",
                                      (value is not None and value <= TARGET_P99_MS
                                       and run_["delivered"] >= run_["expected"]) if is_target else None, note))
    return results
