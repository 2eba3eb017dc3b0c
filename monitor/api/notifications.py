"""GET /notifications: the delivery log (SPEC §5.1, §6), newest first."""
from __future__ import annotations

from flask import jsonify, request
from sqlalchemy import select

from monitor.api import api, page, page_args, require, runtime
from monitor.errors import ApiError
from monitor.store.models import Notification
from monitor.views import notification_json

STATES = ("pending", "delivered", "failed")


@api.get("/notifications")
@require("operations")
def list_notifications():
    limit, offset = page_args()
    query = select(Notification)
    state = request.args.get("state")
    if state:
        if state not in STATES:
            raise ApiError(400, "bad_request", f"state must be one of {', '.join(STATES)}")
        query = query.where(Notification.state == state)
    if request.args.get("receiver"):
        query = query.where(Notification.receiver == request.args["receiver"])
    query = query.order_by(Notification.seq.desc()).offset(offset).limit(limit + 1)
    with runtime().db.read_session() as session:
        rows = session.scalars(query).all()
    return jsonify(page([notification_json(r) for r in rows[:limit]], limit, offset, len(rows) > limit))
