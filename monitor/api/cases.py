"""GET /cases/{case}: a case's events and every clock judged on them."""
from __future__ import annotations

from flask import jsonify

from monitor.api import api, require, runtime
from monitor.core.messages import msg
from monitor.errors import ApiError
from monitor.serializers import case_json
from monitor.store import repository


@api.get("/cases/<case:case>", merge_slashes=False)
@require()
def get_case(case: str):
    with runtime().db.read_session() as session:
        events = repository.case_events(session, case)
        if not events:
            raise ApiError(404, "not_found", msg("no events stored for case {case}", case=repr(case)))
        return jsonify(case_json(case, events, repository.case_clocks(session, case)))
