"""GET /notifications: the delivery log (SPEC §5.1, §6), newest first."""
from __future__ import annotations

from flask import jsonify, request
from monitor.api import api, page, page_args, require, runtime
from monitor.core.messages import msg
from monitor.errors import ApiError
from monitor.store import repository
from monitor.serializers import notification_json

STATES = ("pending", "delivered", "failed")


@api.get("/notifications")
@require("operations")
def list_notifications():
    limit, offset = page_args()
    state = request.args.get("state") or None
    if state and state not in STATES:
        raise ApiError(400, "bad_request", msg("state must be one of {states}", states=", ".join(STATES)))
    with runtime().db.read_session() as session:
        rows = repository.notifications_page(session, limit, offset, state, request.args.get("receiver") or None)
    return jsonify(page([notification_json(r) for r in rows[:limit]], limit, offset, len(rows) > limit))
