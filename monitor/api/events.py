"""POST /events: the HTTP door into ingestion."""
from __future__ import annotations

from flask import jsonify, request

from monitor.api import api, current_identity, require, runtime
from monitor.core.messages import msg
from monitor.errors import ApiError
from monitor.i18n import current_translator
from monitor.ingest import Delivery


@api.post("/events")
@require("device")
def post_events():
    identity = current_identity()
    limit = runtime().ingestor.limits.max_payload_bytes
    raw = request.stream.read(limit + 1)
    delivery = Delivery(raw, f"http:{request.path}", allowed_sites=identity.sites)
    outcome = runtime().ingestor.ingest([delivery])[0]
    body = outcome.to_json(current_translator())  # the reasons in the sender's language; stored in English
    if outcome.accepted or outcome.duplicates or not outcome.rejected:
        return jsonify(body), 202
    first = body["rejected"][0]
    if len(raw) > limit:
        raise ApiError(413, "payload_too_large", first["reason"], body)
    if first["index"] is None:
        raise ApiError(400, "bad_payload", first["reason"], body)
    raise ApiError(422, "invalid_events", msg("no event in the payload was valid; see details"), body)
