"""Alerts: list, acknowledge, and the live Server-Sent Events stream."""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone

from flask import Response, jsonify, request, stream_with_context
from sqlalchemy import func, select

from monitor.alerts import AlertError, acknowledge, changes_after
from monitor.api import api, current_identity, page, page_args, require, runtime
from monitor.errors import ApiError
from monitor.notify.channel import Batch
from monitor.store.models import AlertAction, AlertRow
from monitor.views import alert_json

FILTERS = {"state": AlertRow.state, "site": AlertRow.site, "standard": AlertRow.standard_id, "kind": AlertRow.kind}
KEEPALIVE_S = 15.0


@api.get("/alerts")
@require()
def list_alerts():
    limit, offset = page_args()
    query = select(AlertRow)
    for name, column in FILTERS.items():
        if request.args.get(name):
            query = query.where(column == request.args[name])
    if request.args.get("case"):
        query = query.where(AlertRow.case_id == request.args["case"])
    query = query.order_by(AlertRow.opened_at.desc(), AlertRow.id.desc()).offset(offset).limit(limit + 1)
    with runtime().db.read_session() as session:
        rows = session.scalars(query).all()
    return jsonify(page([alert_json(r) for r in rows[:limit]], limit, offset, len(rows) > limit))


@api.post("/alerts/<alert_id>/ack")
@require("manager")
def ack_alert(alert_id: str):
    body = request.get_json(silent=True) if request.data else {}
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", 'send a JSON object such as {"note": "on my way"}')
    note = body.get("note")
    if note is not None and not isinstance(note, str):
        raise ApiError(400, "bad_request", "note must be text")
    rt = runtime()
    try:
        with rt.db.session() as session:
            alert, changes = acknowledge(session, alert_id, current_identity().name, note, datetime.now(timezone.utc))
    except AlertError as exc:
        raise ApiError(exc.status, "not_found" if exc.status == 404 else "conflict", str(exc)) from None
    rt.fanout.publish(changes)
    return jsonify(alert)


class SseChannel:
    """The board's way out (one per open stream): a batch of changes becomes ``id:``/``event:``/``data:``
    frames. Writing to the client cannot be retried from here: a gone client ends the stream and
    its browser resumes with ``Last-Event-ID``."""

    name = "sse"

    def __init__(self) -> None:
        self.frames: list[str] = []

    def ready(self) -> bool:
        return True

    def send(self, batch: Batch) -> None:
        self.frames += [f"id: {c['seq']}\nevent: alert\ndata: {json.dumps(c['alert'])}\n\n" for c in batch.changes]

    def take(self) -> list[str]:
        frames, self.frames = self.frames, []
        return frames


def _start_seq() -> int:
    """Resume after ``Last-Event-ID`` when the browser sends one, else start with what comes next."""
    value = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    if value is not None:
        try:
            return int(value)
        except ValueError:
            raise ApiError(400, "bad_request", "Last-Event-ID must be a whole number") from None
    with runtime().db.read_session() as session:
        return session.scalar(select(func.max(AlertAction.seq))) or 0


@api.get("/alerts/stream")
@require()
def alert_stream():
    rt = runtime()
    last = _start_seq()

    def frames():
        nonlocal last
        channel = SseChannel()
        quiet_since = time.monotonic()
        yield "retry: 2000\n\n"
        while True:
            with rt.db.read_session() as session:
                changes = changes_after(session, last, 500)
            if changes:
                channel.send(Batch(id=f"sse:{changes[0]['seq']}-{changes[-1]['seq']}", changes=changes))
                last = changes[-1]["seq"]
                yield from channel.take()
                quiet_since = time.monotonic()
                continue
            if time.monotonic() - quiet_since > KEEPALIVE_S:
                quiet_since = time.monotonic()
                yield ": keepalive\n\n"
            # Woken at once by changes made in this process; other processes are seen by the poll.
            with rt.fanout.changed:
                if rt.fanout.last_seq <= last:
                    rt.fanout.changed.wait(0.25)

    return Response(stream_with_context(frames()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
