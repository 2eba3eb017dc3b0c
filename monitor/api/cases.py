"""GET /cases/{case}: a case's events and every clock judged on them."""
from __future__ import annotations

from flask import jsonify
from sqlalchemy import select

from monitor.api import api, require, runtime
from monitor.errors import ApiError
from monitor.store.models import ClockRow, EventRow
from monitor.views import clock_json, event_json


def case_document(case: str) -> dict:
    with runtime().db.read_session() as session:
        events = session.scalars(select(EventRow).where(EventRow.case_id == case).order_by(EventRow.at, EventRow.id)).all()
        clocks = session.scalars(select(ClockRow).where(ClockRow.case_id == case).order_by(ClockRow.start_at, ClockRow.standard_id, ClockRow.key)).all()
        if not events:
            raise ApiError(404, "not_found", f"no events stored for case {case!r}")
        return {"case": case, "events": [event_json(e) for e in events], "clocks": [clock_json(c) for c in clocks]}


@api.get("/cases/<case:case>", merge_slashes=False)
@require()
def get_case(case: str):
    return jsonify(case_document(case))
