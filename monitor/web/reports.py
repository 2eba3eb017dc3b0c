"""Auditors' and operations' pages: compliance reports, the audit chain check, dead letters."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from urllib.parse import urlencode

from flask import render_template, request

from monitor.api import runtime
from monitor.i18n import request_tag
from monitor.reports.formats import FORMATS
from monitor.reports.groups import GROUP_KEYS
from monitor.store import repository
from monitor.serializers import dead_letter_json, iso, notification_json
from monitor.web import pages
from monitor.web.security import page

DEAD_LETTERS_PER_PAGE = 100
NOTIFICATIONS_SHOWN = 50
DEFAULT_DAYS = 7


def _date_arg(name: str, default: date) -> tuple[date, str | None]:
    value = request.args.get(name, "")
    if not value:
        return default, None
    try:
        return date.fromisoformat(value), None
    except ValueError:
        return default, f"‘{value}’ is not a date like 2026-11-24; showing {default.isoformat()} instead."


@pages.get("/reports")
@page("auditor")
def reports():
    """The form picks a period by whole days, both ends included; the API's ``to`` is exclusive."""
    today = datetime.now(timezone.utc).date()
    last, problem_to = _date_arg("to", today)
    first, problem_from = _date_arg("from", last - timedelta(days=DEFAULT_DAYS - 1))
    problems = [p for p in (problem_from, problem_to) if p]
    if first > last:
        problems.append("The period starts after it ends; the two dates were swapped.")
        first, last = last, first
    query = {"from": first.isoformat(), "to": (last + timedelta(days=1)).isoformat()}
    for name in ("site", "standard", "group_by"):
        if request.args.get(name):
            query[name] = request.args[name]
    base = "/api/v1/reports/compliance?"
    # the files are in the page's language (SPEC §6.1: a report's ?lang= sets its export's language)
    downloads = [(fmt.label, base + urlencode({**query, "format": fmt.name, "lang": request_tag()}))
                 for fmt in FORMATS.values() if not fmt.inline]
    groupings = {"": "standard only", **{key: key for key in GROUP_KEYS}}
    standards = [(s.id, s.name) for s in runtime().registry.current.standards]
    sites = list(runtime().config.sites)
    return render_template("pages/reports.html", first=first, last=last, chosen=request.args, problems=problems,
                           json_url=base + urlencode({**query, "format": "json"}), downloads=downloads,
                           groupings=groupings, standards=standards, sites=sites)


@pages.get("/audit")
@page("auditor")
def audit():
    return render_template("pages/audit.html")


@pages.get("/dead-letters")
@page("operations")
def dead_letters():
    """Newest first, a hundred at a time; ``?before=ID`` pages back."""
    before = request.args.get("before", type=int)
    with runtime().db.read_session() as session:
        rows = [dead_letter_json(r) for r in repository.dead_letters_page(session, DEAD_LETTERS_PER_PAGE, before=before)]
        notifications = [_notification(n) for n in repository.notifications_page(session, NOTIFICATIONS_SHOWN)
                         ][:NOTIFICATIONS_SHOWN]
    more = len(rows) > DEAD_LETTERS_PER_PAGE
    rows = rows[:DEAD_LETTERS_PER_PAGE]
    return render_template("pages/dead_letters.html", letters=rows, before=before,
                           older=rows[-1]["id"] if more else None, zone=timezone.utc, notifications=notifications)


def _notification(row) -> dict:
    """The API's item, with the group and the alerts themselves for the page."""
    return {**notification_json(row), "group": row.labels, "changes": [c["alert"] for c in row.changes],
            "next_attempt_at": iso(row.next_attempt_at) if row.state == "pending" else None}
