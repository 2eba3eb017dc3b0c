"""GET /dead-letters: every rejected payload with its reason, newest first."""
from __future__ import annotations

from flask import jsonify
from sqlalchemy import select

from monitor.api import api, page, page_args, require, runtime
from monitor.store.models import DeadLetter
from monitor.views import dead_letter_json


@api.get("/dead-letters")
@require("operations")
def list_dead_letters():
    limit, offset = page_args()
    with runtime().db.read_session() as session:
        rows = session.scalars(select(DeadLetter).order_by(DeadLetter.id.desc()).offset(offset).limit(limit + 1)).all()
    return jsonify(page([dead_letter_json(r) for r in rows[:limit]], limit, offset, len(rows) > limit))
