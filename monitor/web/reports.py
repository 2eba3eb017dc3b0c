"""Auditors' and operations' pages: compliance reports, the audit chain check, dead letters."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from urllib.parse import urlencode

from flask import render_template, request
from flask_babel import gettext

from monitor.api import runtime
from monitor.i18n import current_translator, request_tag
from monitor.reports.formats import FORMATS
from monitor.reports.wording import HEADINGS
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
        return default, gettext("‘%(value)s’ is not a date like 2026-11-24; showing %(default)s instead.",
                                value=value, default=default.isoformat())


@pages.get("/reports")
@page("auditor")
def reports():
    """The form picks a period by whole days, both ends included; the API's ``to`` is exclusive."""
    today = datetime.now(timezone.utc).date()
    last, problem_to = _date_arg("to", today)
    first, problem_from = _date_arg("from", last - timedelta(days=DEFAULT_DAYS - 1))
    problems = [p for p in (problem_from, problem_to) if p]
    if first > last:
        problems.append(gettext("The period starts after it ends; the two dates were swapped."))
        first, last = last, first
    query = {"from": first.isoformat(), "to": (last + timedelta(days=1)).isoformat()}
    for name in ("site", "standard", "group_by"):
        if request.args.get(name):
            query[name] = request.args[name]
    base = "/api/v1/reports/compliance?"
    # the files are in the page's language (SPEC §6.1: a report's ?lang= sets its export's language)
    downloads = [(fmt.label, base + urlencode({**query, "format": fmt.name, "lang": request_tag()}))
                 for fmt in FORMATS.values() if not fmt.inline]
    words = current_translator()
    groupings = {"": gettext("standard only"), **{name: words(key.label) for name, key in GROUP_KEYS.items()}}
    standards = [(s.id, s.name) for s in runtime().registry.current.standards]
    with runtime().db.read_session() as session:
        sites = repository.known_sites(session, runtime().config.sites)
    return render_template("pages/reports.html", first=first, last=last, chosen=request.args, problems=problems,
                           json_url=base + urlencode({**query, "format": "json"}), downloads=downloads,
                           groupings=groupings, standards=standards, sites=sites, report_words=report_words())


def report_words() -> dict:
    """What reports.js writes, in the page's language; ``{name}`` is filled in by the script."""
    columns = [gettext("Group"), *(current_translator()(HEADINGS[f]) for f in
                                   ("met", "missed", "breached", "cancelled", "data_gap", "compliance")),
               gettext("Mean"), "p50", "p90", "p95", gettext("Max"), gettext("Goal")]
    return {"columns": columns, "whole_period": gettext("whole period"),
            "compliance_of": gettext("Compliance of %(standard)s", standard="{standard}"),
            "compliance_of_all": gettext("Compliance of every standard over the period"),
            "bar_title": gettext("%(group)s: %(share)s (met %(met)s, missed %(missed)s, breached %(breached)s)",
                                 group="{group}", share="{share}", met="{met}", missed="{missed}",
                                 breached="{breached}"),
            "goal": gettext("goal %(share)s", share="{share}"),
            "total_title": gettext("%(name)s: %(share)s, goal %(goal)s", name="{name}", share="{share}", goal="{goal}"),
            "goal_met": gettext("met"), "goal_not_met": gettext("not met"),
            "status": gettext("%(count)s standard(s), %(start)s to %(end)s (end excluded)", count="{count}",
                              start="{from}", end="{to}"),
            "status_head": gettext("; built on audit chain head %(head)s…", head="{head}"),
            "all_standards": gettext("All standards"),
            "idle": gettext("No clock was judged in this period for: %(names)s.", names="{names}"),
            "version": gettext("version %(number)s", number="{versions}"),
            "failed": gettext("The compliance figures could not be loaded: %(reason)s.", reason="{reason}")}


def audit_words() -> dict:
    """What audit.js writes, in the page's language."""
    return {"checking": gettext("Checking…"), "intact": gettext("✓ The chain is intact"),
            "broken": gettext("✗ The chain is broken"), "none": gettext("none"),
            "broken_record": gettext("record %(seq)s (%(kind)s): %(reason)s", seq="{seq}", kind="{kind}",
                                     reason="{reason}"),
            "failed": gettext("The check could not be run: %(reason)s", reason="{reason}")}


@pages.get("/audit")
@page("auditor")
def audit():
    return render_template("pages/audit.html", audit_words=audit_words())


@pages.get("/dead-letters")
@page("operations")
def dead_letters():
    """Newest first, a hundred at a time; ``?before=ID`` pages back."""
    before = request.args.get("before", type=int)
    with runtime().db.read_session() as session:
        words = current_translator()
        rows = [dead_letter_json(r, words) for r in repository.dead_letters_page(session, DEAD_LETTERS_PER_PAGE,
                                                                                 before=before)]
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
