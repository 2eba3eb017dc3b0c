"""GET /reports/compliance (SPEC §6, §7): the compliance report in any registered format."""
from __future__ import annotations

from flask import Response, request

from monitor.api import api, require, runtime
from monitor.errors import ApiError
from monitor.core.messages import msg
from monitor.i18n import LANGUAGES, parse_tag, request_tag
from monitor.reports.compliance import build_report, site_namer
from monitor.reports.params import ReportParamError, parse_format, report_query

PARAMETERS = ("from", "to", "site", "standard", "group_by", "format", "lang")


@api.get("/reports/compliance")
@require("auditor")
def compliance_report():
    rt = runtime()
    unknown = [name for name in request.args if name not in PARAMETERS]
    if unknown:
        raise ApiError(400, "bad_request", msg("unknown parameter {name}; this report takes {names}",
                                               name=repr(unknown[0]), names=", ".join(PARAMETERS)),
                       {"parameter": unknown[0]})
    if "lang" in request.args and parse_tag(request.args["lang"]) is None:
        raise ApiError(400, "bad_request", msg("lang must be one of {choices}", choices=", ".join(LANGUAGES)),
                       {"parameter": "lang"})
    try:
        fmt = parse_format(request.args.get("format"))
        query = report_query(request.args.get("from"), request.args.get("to"), request.args.getlist("site"),
                             request.args.getlist("standard"), request.args.getlist("group_by"))
        document = build_report(rt.db, rt.registry.current, query, site_namer(rt.config), daily=fmt.daily)
    except ReportParamError as exc:
        raise ApiError(400, "bad_request", exc.message, {"parameter": exc.param}) from None
    disposition = "inline" if fmt.inline else "attachment"
    return Response(fmt.render(document, request_tag()), mimetype=None, headers={
        "Content-Type": fmt.media_type,
        "Content-Disposition": f'{disposition}; filename="{fmt.filename(document)}"',
        "Cache-Control": "no-store",
    })
