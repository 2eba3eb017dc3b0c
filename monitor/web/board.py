"""``/``: the live board for the floor's wall screen — one card per clock with unresolved alerts,
and the clocks nearest their deadline.

The page is rendered with what storage holds; board.js then keeps it live. Each alert change on
the API's SSE stream (resumed from the last action the page was drawn with) makes board.js re-read
``/board/alerts``, so the grouping into one card per clock (SPEC §6.1) is done in one place, here.
Clocks have no stream (they start with every seated table), so board.js re-reads
``/board/clocks`` every few seconds and counts down in between.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from flask import render_template, request

from monitor.api import runtime
from monitor.i18n import state_word
from monitor.store import repository
from monitor.serializers import iso
from monitor.web import pages
from monitor.web.format import case_label, local_hm
from monitor.web.security import PEOPLE, page

#: A wall screen has room for this many clocks; the rest are counted.
CLOCKS_SHOWN = 24


def _site() -> str | None:
    return request.args.get("site") or None


def _names() -> dict[str, str]:
    return {s.id: s.name for s in runtime().registry.current.standards}


def _card(group: repository.ClockAlerts) -> dict[str, Any]:
    lead = group.lead
    zone = runtime().config.site_timezone(group.site)
    acknowledged = [a for a in group.alerts if a.state == "acknowledged"]
    earlier = sorted({a.kind for a in group.alerts} - {lead.kind}, key=lambda k: repository.SEVERITY.get(k, 9))
    return {"id": lead.id, "kind": lead.kind, "case": group.case, "key": group.key, "standard": group.standard, "state": group.state,
            "site": group.site, "due_at": iso(lead.due_at), "due_local": local_hm(lead.due_at, zone), "to": lead.to,
            "label": case_label(group.case, group.attrs), "open_ids": group.open_ids,
            "also": [state_word(k) for k in earlier],
            "acknowledged": [(a.acknowledged_by, a.note) for a in acknowledged]}


def _cards(session, site: str | None) -> list[dict[str, Any]]:
    return [_card(group) for group in repository.board_alerts(session, site)]


def _clocks(session, site: str | None) -> tuple[list[dict[str, Any]], int]:
    found, total = repository.board_clocks(session, site, CLOCKS_SHOWN)
    config = runtime().config
    clocks = [{"case": c.row.case_id, "key": c.row.key, "standard": c.row.standard_id, "state": c.row.state,
               "deadline": iso(c.row.deadline), "warn_at": iso(c.row.warn_at),
               "label": case_label(c.row.case_id, c.attrs),
               "started_local": local_hm(c.row.start_at, config.site_timezone(c.row.site))} for c in found]
    return clocks, total


def _now() -> str:
    return iso(datetime.now(timezone.utc))


@pages.get("/")
@page(*PEOPLE)
def board():
    site = _site()
    with runtime().db.read_session() as session:
        # The stream resumes after this action; reading it before the alerts means a change that
        # lands in between is replayed (harmless) rather than missed.
        last_seq = repository.latest_alert_seq(session)
        cards = _cards(session, site)
        clocks, total = _clocks(session, site)
        sites = repository.known_sites(session, runtime().config.sites)
        unknown = bool(site) and site not in sites
    # An unknown site is said on the page, not with a 404: a wall screen set up for a new site
    # before its first event keeps its stream and shows the site's alerts once they come.
    return render_template("pages/board.html", cards=cards, clocks=clocks, clocks_total=total, names=_names(),
                           site=site, sites=sites, unknown_site=unknown, last_seq=last_seq, server_now=_now(),
                           timezone=_header_zone(site),
                           kiosk=request.args.get("kiosk") in ("1", "true", "yes"))


def _header_zone(site: str | None) -> str:
    """The zone of the board's header clock: the site's, not the screen's. A board of all sites
    tells the time its sites share, and the default zone when they are in several."""
    config = runtime().config
    if site:
        return config.site_timezone(site).key
    zones = {known.timezone.key for known in config.sites.values()}
    return zones.pop() if len(zones) == 1 else config.default_timezone.key


@pages.get("/board/alerts")
@page(*PEOPLE)
def board_alerts():
    """The alerts panel alone, for board.js to swap in after each alert change."""
    with runtime().db.read_session() as session:
        cards = _cards(session, _site())
    return render_template("pages/_alerts.html", cards=cards, names=_names())


@pages.get("/board/clocks")
@page(*PEOPLE)
def board_clocks():
    """The clocks panel alone, for board.js to swap in."""
    with runtime().db.read_session() as session:
        clocks, total = _clocks(session, _site())
    return render_template("pages/_clocks.html", clocks=clocks, clocks_total=total, names=_names(),
                           server_now=_now())
