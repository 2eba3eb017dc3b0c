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

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from bench.common import (BenchError, Context, Mosquitto, Publisher, Result, free_port, fresh_service, payload_file,
                          percentile, progress, wait_count)

NAME = "notify"
WITHIN_S = 600.0  # call-ticket's ``within``
TARGET_P99_MS = 1000.0


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() when the request had arrived
    status: int = 0

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class HookServer:
    """A webhook receiver on loopback, ``http.server`` in a thread (the tests' too). ``answers`` are the statuses of the first requests, in order;
    after them every request gets ``200``. ``before_answer`` runs between reading a request and
    answering it (a test can kill the service there)."""

    answers: list[int] = field(default_factory=list)
    before_answer: Callable[[Hit], None] | None = None
    hits: list[Hit] = field(default_factory=list)

    def __post_init__(self) -> None:
        server = self
        self.lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hit = Hit(self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time())
                with server.lock:
                    hit.status = server.answers.pop(0) if server.answers else 200
                    server.hits.append(hit)
                if server.before_answer is not None:
                    server.before_answer(hit)
                reply = b'{"errcode": 0, "errmsg": "ok"}' if hit.status == 200 else b'{"error": "try later"}'
                try:
                    self.send_response(hit.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except OSError:  # the client is gone (killed): nothing to answer
                    pass

            def log_message(self, *args) -> None:
                pass

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def arrivals(self) -> dict[str, tuple[float, dict]]:
        """Alert id → (arrival epoch, alert JSON) of its first delivery in a ``json`` message."""
        first: dict[str, tuple[float, dict]] = {}
        for hit in self.delivered():
            for alert in hit.json["alerts"]:
                first.setdefault(alert["id"], (hit.at, alert))
        return first

    def delivered(self) -> list[Hit]:
        """Requests answered 200."""
        with self.lock:
            return [h for h in self.hits if h.status == 200]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


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
        with Mosquitto(ctx.workdir) as broker, fresh_service(ctx, broker, kind, f"notify-{kind}",
                                                             extra_env={"MONITOR_CONFIG": str(config)}) as (service, db):
            lead = count / 500 + (1.5 if ctx.quick else 3.0)
            first_due = time.time() + lead
            path, messages = payload_file(ctx.workdir, f"notify-{kind}", count, 100, "ticket_issued",
                                          at_base=first_due - WITHIN_S, at_spread=spread)
            progress(f"{kind}: ingesting {count} clocks due from {lead:.1f}s from now, over {spread:.0f}s")
            publisher = Publisher(broker.url, path, messages)
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
