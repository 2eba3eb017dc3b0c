"""GET /dead-letters: every rejected payload with its reason (in the reader's language), newest first."""
from __future__ import annotations

from flask import jsonify
from monitor.api import api, page, page_args, require, runtime
from monitor.i18n import current_translator
from monitor.store import repository
from monitor.serializers import dead_letter_json


@api.get("/dead-letters")
@require("operations")
def list_dead_letters():
    limit, offset = page_args()
    with runtime().db.read_session() as session:
        rows = repository.dead_letters_page(session, limit, offset)
    words = current_translator()
    return jsonify(page([dead_letter_json(r, words) for r in rows[:limit]], limit, offset, len(rows) > limit))
