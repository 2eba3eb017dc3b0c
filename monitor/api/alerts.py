"""Alerts: list, acknowledge, and the live Server-Sent Events stream."""
from __future__ import annotations

import json
import threading
import time
from collections import Counter
from datetime import datetime, timezone

from flask import Response, current_app, jsonify, request, session, stream_with_context

from monitor.alerts import AlertError, acknowledge
from monitor.api import api, current_identity, page, page_args, require, runtime
from monitor.auth import identify_token
from monitor.core.messages import msg
from monitor.errors import ApiError, error_body
from monitor.notify.channel import Batch
from monitor.store import repository
from monitor.serializers import alert_json

KEEPALIVE_S = 15.0
#: a stream re-reads its credentials this often, so signing out or revoking ends it too
RECHECK_S = 5.0
#: an acknowledgement's note is a line for the floor, not a document (a 15 MiB note made the board 43 MB)
MAX_NOTE = 1000


@api.get("/alerts")
@require()
def list_alerts():
    limit, offset = page_args()
    filters = {name: request.args[name] for name in repository.ALERT_FILTERS if request.args.get(name)}
    with runtime().db.read_session() as session:
        rows = repository.alerts_page(session, filters, limit, offset)
    return jsonify(page([alert_json(r) for r in rows[:limit]], limit, offset, len(rows) > limit))


@api.post("/alerts/<alert_id>/ack")
@require("manager")
def ack_alert(alert_id: str):
    body = request.get_json(silent=True) if request.data else {}
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", msg('send a JSON object such as {example}', example='{"note": "on my way"}'))
    note = body.get("note")
    if note is not None and not isinstance(note, str):
        raise ApiError(400, "bad_request", msg("note must be text"))
    if note is not None and len(note) > MAX_NOTE:
        raise ApiError(422, "invalid_note", msg("a note has at most {max} characters, this one {length}", max=MAX_NOTE,
                                                 length=len(note)),
                       {"field": "note", "max_length": MAX_NOTE})
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
            raise ApiError(400, "bad_request", msg("Last-Event-ID must be a whole number")) from None
    with runtime().db.read_session() as session:
        return repository.latest_alert_seq(session)


class StreamSlots:
    """Open streams per client address in this process (each holds a thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: Counter[str] = Counter()

    def take(self, client: str, cap: int) -> bool:
        with self._lock:
            if self._open[client] >= cap:
                return False
            self._open[client] += 1
            return True

    def give_back(self, client: str) -> None:
        with self._lock:
            self._open[client] -= 1
            if self._open[client] <= 0:
                del self._open[client]


def _still_signed_in() -> bool:
    """Whether the credentials the stream was opened with still stand (token not revoked, session not ended)."""
    rt = runtime()
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        with rt.db.read_session() as db_session:
            return identify_token(db_session, header[7:].strip(), rt.config.admin_token) is not None
    from monitor.api.sessions import store

    sid = getattr(session, "sid", None)
    return bool(sid) and store().load(sid) is not None


@api.get("/alerts/stream")
@require()
def alert_stream():
    rt = runtime()
    last = _start_seq()
    client = request.remote_addr or "unknown"
    slots: StreamSlots = current_app.extensions.setdefault("smartmon.streams", StreamSlots())
    cap = rt.config.web.max_streams_per_client
    if not slots.take(client, cap):
        response = error_body(429, "too_many_streams", f"at most {cap} live streams per client; close one first")
        response.headers["Retry-After"] = "5"
        return response

    def frames():
        nonlocal last
        channel = SseChannel()
        quiet_since = checked_at = time.monotonic()
        yield "retry: 2000\n\n"
        while True:
            published = rt.fanout.last_seq  # anything published before the query is in its answer
            with rt.db.read_session() as db_session:
                changes = repository.alert_changes_after(db_session, last, 500)
            if changes:
                channel.send(Batch(id=f"sse:{changes[0]['seq']}-{changes[-1]['seq']}", changes=changes))
                last = changes[-1]["seq"]
                yield from channel.take()
            if len(changes) == 500:
                continue
            now = time.monotonic()
            if changes:
                quiet_since = now
            if now - checked_at >= RECHECK_S:
                checked_at = now
                if not _still_signed_in():
                    return
            if now - quiet_since >= KEEPALIVE_S:
                quiet_since = now
                yield ": keepalive\n\n"
            # Woken by the process's alert watch (LISTEN/NOTIFY on PostgreSQL, one shared poll on
            # SQLite; started with the first stream that waits) or by a change made here; the
            # timeout only paces the checks above.
            rt.alert_watch.ensure_started()
            with rt.fanout.changed:
                if rt.fanout.last_seq == published:
                    rt.fanout.changed.wait(min(RECHECK_S - (now - checked_at), KEEPALIVE_S - (now - quiet_since)))

    response = Response(stream_with_context(frames()), mimetype="text/event-stream",
                        headers={"X-Accel-Buffering": "no"})
    response.call_on_close(lambda: slots.give_back(client))
    return response
