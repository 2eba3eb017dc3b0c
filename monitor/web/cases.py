"""``/cases/<case>``: one case's events in order, its clocks on a time line, and its alerts."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flask import render_template
from flask_babel import gettext

from monitor.api import runtime
from monitor.serializers import alert_json, case_json
from monitor.store import repository
from monitor.web import pages
from monitor.web.format import parse_time
from monitor.web.security import PEOPLE, page

#: Drawing area of the time line, in SVG user units (the SVG scales to the page width).
WIDTH, LABEL, MARGIN = 1000.0, 220.0, 30.0


@dataclass
class Bar:
    """One clock drawn on the time line: x positions in SVG units."""

    clock: dict
    label: str
    x0: float
    x1: float
    deadline_x: float | None
    warn_x: float | None
    open_ended: bool


def timeline(document: dict, names: dict[str, str], now: datetime) -> dict:
    """Positions for an SVG time line from the first event to the last thing worth seeing."""
    times = [parse_time(e["at"]) for e in document["events"]]
    for clock in document["clocks"]:
        times += [parse_time(clock[k]) for k in ("start", "deadline", "stop", "cancelled_at") if clock.get(k)]
    running = any(c["state"] in ("running", "breached", "paused") for c in document["clocks"])
    if running:
        times.append(now)
    first, last = min(times), max(times)
    span = max((last - first).total_seconds(), 60.0)
    last = first + timedelta(seconds=span)

    def x(moment: datetime | str | None) -> float | None:
        moment = parse_time(moment)
        if moment is None:
            return None
        return LABEL + (WIDTH - LABEL - MARGIN) * (moment - first).total_seconds() / span

    bars = []
    for clock in document["clocks"]:
        end = clock.get("stop") or clock.get("cancelled_at") or clock.get("paused_since")
        label = names.get(clock["standard"], clock["standard"]) + (f" · {clock['key']}" if clock.get("key") else "")
        bars.append(Bar(clock, label, x(clock["start"]), x(end or now), x(clock.get("deadline")),
                        x(clock.get("warn_at")), end is None))
    tick_times = [first + timedelta(seconds=span * i / 4) for i in range(5)]
    return {"first": first, "last": last, "bars": bars, "ticks": [(x(t), t) for t in tick_times],
            "events": [(x(e["at"]), e) for e in document["events"]], "width": WIDTH, "label": LABEL,
            "height": 56 + 34 * len(bars) + 30, "now_x": x(now) if running else None}


@pages.get("/cases/<case:case>", merge_slashes=False)
@page(*PEOPLE)
def case(case: str):
    with runtime().db.read_session() as session:
        events = repository.case_events(session, case)
        if not events:
            return render_template("pages/error.html", status=404, title=gettext("No such case"),
                                   message=gettext("No events are stored for case “%(case)s”.", case=case)), 404
        document = case_json(case, events, repository.case_clocks(session, case))
        alerts = [alert_json(r) for r in repository.case_alerts(session, case)]
    names = {s.id: s.name for s in runtime().registry.current.standards}
    site = document["events"][0]["site"]
    zone = runtime().config.site_timezone(site)
    now = datetime.now(timezone.utc)
    return render_template("pages/case.html", doc=document, alerts=alerts, names=names, zone=zone,
                           zone_name=getattr(zone, "key", str(zone)), site=site,
                           line=timeline(document, names, now))
