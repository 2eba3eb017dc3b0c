"""GET /cases/{case}: a case's events and every clock judged on them."""
from __future__ import annotations

from flask import jsonify
from monitor.api import api, require, runtime
from monitor.core.messages import msg
from monitor.errors import ApiError
from monitor.store import repository
from monitor.serializers import clock_json, event_json


def case_document(case: str) -> dict:
    with runtime().db.read_session() as session:
        events = repository.case_events(session, case)
        clocks = repository.case_clocks(session, case)
        if not events:
            raise ApiError(404, "not_found", msg("no events stored for case {case}", case=repr(case)))
        return {"case": case, "events": [event_json(e) for e in events], "clocks": [clock_json(c) for c in clocks]}


@api.get("/cases/<case:case>", merge_slashes=False)
@require()
def get_case(case: str):
    return jsonify(case_document(case))
