"""``/``: the live board for the floor's wall screen — open alerts and the clocks nearest their deadline.

The page is rendered with what storage holds; board.js then keeps it live. Alerts come over the
API's SSE stream, resumed from the last alert action the page was rendered with, so no change
between rendering and connecting is lost. Clocks have no stream (they start with every seated
table), so board.js re-reads ``/board/clocks`` every few seconds and counts down in between.
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask import render_template, request

from monitor.api import runtime
from monitor.store import repository
from monitor.serializers import alert_json, clock_json, iso
from monitor.web import pages
from monitor.web.format import KIND_RANK
from monitor.web.security import PEOPLE, page

LIVE_ALERTS = ("open", "acknowledged")
RUNNING_CLOCKS = ("running", "breached")
#: A wall screen has room for this many clocks; the rest are counted.
CLOCKS_SHOWN = 24


def _site() -> str | None:
    return request.args.get("site") or None


def alert_order(alert: dict) -> tuple:
    """Unacknowledged first, then escalation, breach, warning, then the longest overdue."""
    return (alert["state"] != "open", KIND_RANK.get(alert["kind"], 9), alert["due_at"] or "")


def _clocks(session, site: str | None) -> tuple[list[dict], int]:
    rows, total = repository.running_clocks(session, RUNNING_CLOCKS, site, CLOCKS_SHOWN)
    return [{**clock_json(r), "case": r.case_id} for r in rows], total


def _names() -> dict[str, str]:
    return {s.id: s.name for s in runtime().registry.current.standards}


@pages.get("/")
@page(*PEOPLE)
def board():
    site = _site()
    with runtime().db.read_session() as session:
        # The stream resumes after this action; reading it before the alerts means a change that
        # lands in between is replayed (harmless) rather than missed.
        last_seq = repository.latest_alert_seq(session)
        alerts = sorted((alert_json(r) for r in repository.live_alerts(session, LIVE_ALERTS, site)), key=alert_order)
        clocks, total = _clocks(session, site)
    names = _names()
    return render_template("pages/board.html", alerts=alerts, clocks=clocks, clocks_total=total, names=names,
                           site=site, last_seq=last_seq,
                           server_now=iso(datetime.now(timezone.utc)),
                           kiosk=request.args.get("kiosk") in ("1", "true", "yes"))


@pages.get("/board/clocks")
@page(*PEOPLE)
def board_clocks():
    """The clocks panel alone, for board.js to swap in."""
    with runtime().db.read_session() as session:
        clocks, total = _clocks(session, _site())
    return render_template("pages/_clocks.html", clocks=clocks, clocks_total=total, names=_names(),
                           server_now=iso(datetime.now(timezone.utc)))
