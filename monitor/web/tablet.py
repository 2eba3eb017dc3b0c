"""``/tablet``: the staff tablet (SPEC §6.1) — places as tiles, a touch is an event.

Signed in once with a device token (``?token=`` opens a server-side session bound to the token,
then redirects to ``/tablet`` without it), so the tablet stays signed in across restarts of either
side and records only for the token's sites: events go to ``POST /api/v1/events`` on that session,
which dead-letters an event for another site.

The page is rendered with the site's places and buttons (they change only with the config and the
standards); ``tablet.js`` fills in each place's case and clocks from ``/tablet/state``, polled every
few seconds (a small JSON answer; an SSE stream would need one held connection per tablet for
changes that the poll sees soon enough), and counts down in between. Touches are queued in the
browser's storage first and sent as one batch, so the page works through a network outage; the
service worker (``/tablet-sw.js``) keeps the page itself available offline.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from flask import g, render_template, request, send_from_directory

from monitor.api import require, runtime
from monitor.auth import Identity
from monitor.config import Site
from monitor.core.standards import Standard
from monitor.errors import ApiError
from monitor.store import repository
from monitor.serializers import iso
from monitor.web import pages
from monitor.web.security import page

#: the event a tablet records when staff free a place by hand; it closes the case like ``close_on``
FREE_EVENT = "place_freed"
#: how far back a visit may have begun and still hold its place (a place left taken longer shows free)
VISIT_WINDOW = timedelta(hours=24)
#: how often tablet.js re-reads /tablet/state, in seconds
POLL_SECONDS = 3
STATIC = Path(__file__).parent / "static"
#: where a catalogue text's words for people end, in English or Chinese punctuation
LABEL_END = re.compile(r"[;；]")


def _site(identity: Identity) -> Site | None:
    """The site this tablet records for: the token's (``?site=`` picks one of several), else any
    configured site with places for a token of every site or an admin."""
    configured = runtime().config.sites
    allowed = sorted(identity.sites) if identity.sites is not None else [
        s.id for s in configured.values() if s.places]
    wanted = request.args.get("site") or (allowed[0] if allowed else None)
    if wanted is None or wanted not in allowed:
        return None
    return configured.get(wanted) or Site(wanted, wanted, runtime().config.site_timezone(wanted))


def _site_standards(site: Site) -> list[Standard]:
    return [s for s in runtime().registry.current.standards if s.applies_to.matches_site(site.id)]


def _buttons(site: Site, standards: list[Standard]) -> list[dict[str, str]]:
    """One button per event type the site's standards start, stop, pause, resume or cancel on, or
    that closes a visit, in the catalogue's order (the files list them in the order of service)."""
    used = set(site.close_on)
    for standard in standards:
        used |= {*standard.start_types, *standard.stop, *standard.pause_on, *standard.resume_on, *standard.cancel_on}
    catalogue = runtime().registry.current.catalogue
    order = {event_type: index for index, event_type in enumerate(catalogue)}
    buttons = []
    for event_type in sorted(used, key=lambda t: (order.get(t, len(order)), t)):
        text = catalogue.get(event_type, "")
        # The catalogue's text up to its first ";" or "；" (the rest is for integrators: "attrs.order_id …").
        buttons.append({"type": event_type, "label": LABEL_END.split(text, 1)[0].strip() or event_type.replace("_", " "),
                        "title": text})
    return buttons


def _rules(site: Site, standards: list[Standard]) -> dict[str, Any]:
    """What tablet.js needs to make events: which types open a case, which close it, and the
    correlation attribute of each ``repeat: each`` standard."""
    return {
        "opens": sorted({t for s in standards for t in s.start_types}),
        "closes": [*site.close_on, FREE_EVENT],
        "free": FREE_EVENT,
        "repeats": [{"standard": s.id, "attr": s.correlate, "starts": sorted(s.start_types), "stops": list(s.stop)}
                    for s in standards if s.repeat == "each" and s.correlate],
        # a clock whose stop or cancel is touched but not yet sent is drawn as done, not counting down
        "ends": {s.id: {"stops": list(s.stop), "cancels": list(s.cancel_on),
                        "attr": s.correlate if s.repeat == "each" else None} for s in standards},
    }


def _state(site: Site) -> dict[str, Any]:
    """Each place's case with the ids of its events (so tablet.js knows which of its touches are
    in) and their correlation values (for the next order number), and its open clocks."""
    now = datetime.now(timezone.utc)
    standards = runtime().registry.current.standards
    names = {s.id: s.name for s in standards}
    correlated = {s.correlate for s in standards if s.correlate}
    with runtime().db.read_session() as session:
        cases = repository.place_cases(session, site.id, [p.id for p in site.places], [*site.close_on, FREE_EVENT],
                                       now - VISIT_WINDOW)
        clocks = repository.open_clocks(session, site.id, [c.case for c in cases.values()])
    by_case: dict[str, list[dict[str, Any]]] = {}
    for clock in clocks:
        by_case.setdefault(clock.case_id, []).append({
            "standard": clock.standard_id, "name": names.get(clock.standard_id, clock.standard_id),
            "key": clock.key, "state": clock.state, "start": iso(clock.start_at), "warn_at": iso(clock.warn_at),
            "deadline": iso(clock.deadline), "paused_since": iso(clock.paused_since)})
    places = {}
    for place in site.places:
        found = cases.get(place.id)
        places[place.id] = None if found is None else {
            "case": found.case, "opened_at": iso(found.opened_at),
            "events": [{"id": e["id"], "type": e["type"],
                        "attrs": {k: v for k, v in e["attrs"].items() if k in correlated}} for e in found.events],
            "clocks": by_case.get(found.case, [])}
    return {"site": site.id, "now": iso(now), "places": places}


@pages.get("/tablet")
@page("device")
def tablet():
    site = _site(g.identity)
    if site is None or not site.places:
        return render_template("pages/tablet.html", site=site, places=(), buttons=(), rules={}, staff=(),
                               poll_seconds=POLL_SECONDS)
    standards = _site_standards(site)
    return render_template("pages/tablet.html", site=site, places=site.places, buttons=_buttons(site, standards),
                           rules=_rules(site, standards), staff=site.staff,
                           poll_seconds=POLL_SECONDS)


@pages.get("/tablet/state")
@require("device")
def tablet_state():
    """Each place's open case, its events and its running clocks, for tablet.js."""
    site = _site(g.identity)
    if site is None:
        raise ApiError(404, "not_found", "this credential records for no such site; name one of its sites in ?site=")
    return _state(site)


@pages.get("/tablet-sw.js")
def tablet_service_worker():
    """The service worker from the site's root, so its scope may be ``/tablet`` (a worker under
    ``/assets/`` could control nothing above that folder)."""
    response = send_from_directory(STATIC, "tablet-sw.js", mimetype="text/javascript", max_age=0)
    response.headers["Service-Worker-Allowed"] = "/tablet"
    return response
