"""``/standards``: the promises in force with their SMART cards, one standard's detail, the editor."""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Mapping

from flask import render_template
from flask_babel import gettext

from monitor.api import runtime
from monitor.api.standards import FILE_NAME
from monitor.core.standards import Standard
from monitor.i18n import current_translator, status_word
from monitor.store import repository
from monitor.serializers import iso
from monitor.web import pages
from monitor.registry import FILE_AUTHOR
from monitor.web.format import author_word, rule_in_words
from monitor.web.security import PEOPLE, page

log = logging.getLogger(__name__)

def criteria_labels() -> dict[str, str]:
    """The criteria's names in the page's language (plain strings: the page also hands them to smart.js)."""
    return {"specific": gettext("Specific"), "measurable": gettext("Measurable"), "achievable": gettext("Achievable"),
            "relevant": gettext("Relevant"), "time_bound": gettext("Time-bound")}
EDITOR_VERSIONS = 10


def static_card(standard: Standard, catalogue: Mapping[str, str]) -> dict[str, Any] | None:
    """The SMART card as far as the YAML alone tells (the data half comes from the API).

    None when the evaluation cannot be made: the card is then left out rather than the page failing.
    """
    try:
        from monitor.core import smart

        words = current_translator()
        criteria = smart.static_findings(standard, catalogue, datetime.now(timezone.utc).date())
        suggestions = list(dict.fromkeys(s for c in criteria.values() for s in c.suggestions))
        return {"grade": str(smart.static_grade(criteria)),
                "criteria": {name: c.to_json(words) for name, c in criteria.items()},
                "suggestions": [words(s) for s in suggestions]}
    except Exception:  # noqa: BLE001 - a page shows the rule even when the SMART check breaks
        log.exception("static SMART evaluation of %s failed", standard.id)
        return None


def _files() -> list[dict[str, Any]]:
    with runtime().db.read_session() as session:
        rows = repository.file_summaries(session)
    latest: dict[str, dict[str, Any]] = {}
    for file, version, author, created_at in rows:
        latest.setdefault(file, {"name": file, "version": version, "author": author, "created_at": iso(created_at)})
    in_force = runtime().registry.current
    for entry in latest.values():
        loaded = in_force.file(entry["name"])
        entry["standards"] = [s.id for s in loaded.standards] if loaded else []
    return list(latest.values())


@pages.get("/standards")
@page(*PEOPLE)
def standards():
    in_force = runtime().registry.current
    catalogue = in_force.catalogue
    cards = [(s, static_card(s, catalogue)) for s in in_force.standards]
    return render_template("pages/standards.html", cards=cards, files=_files(), labels=criteria_labels())


@pages.get("/standards/<standard_id>")
@page(*PEOPLE)
def standard(standard_id: str):
    in_force = runtime().registry.current
    found = in_force.get(standard_id)
    if found is None:
        return render_template("pages/error.html", status=404, title=gettext("No such standard"),
                               message=gettext("No standard with id “%(id)s” is in force.", id=standard_id)), 404
    catalogue = in_force.catalogue
    return render_template("pages/standard.html", s=found, rule=rule_in_words(found, catalogue),
                           card=static_card(found, catalogue), labels=criteria_labels(), smart_words=smart_words())


def smart_words() -> dict[str, Any]:
    """What smart.js writes on the card, in the page's language (the findings come translated from the API)."""
    return {"observed_ratio": gettext("observed share met: %(value)s", value="{}"),
            "sustainable_target_s": gettext("target the floor sustains at the goal: %(value)s s", value="{}"),
            "coverage": gettext("coverage: %(value)s", value="{}"),
            "suggestions": gettext("Suggestions"),
            "source": gettext("From the YAML and the stored events of %(start)s to %(end)s; overall grade: %(grade)s.",
                              start="{start}", end="{end}", grade="{grade}"),
            "unavailable": gettext("From the YAML alone: the data evaluation is not available right now."),
            "statuses": {status: status_word(status) for status in ("pass", "warn", "fail", "unknown")}}


def backtest_words() -> dict[str, str]:
    """What backtest.js, editor.js and history.js share, in the page's language; ``{name}`` is filled in by the script."""
    return {"title": gettext("Back-test over the last %(days)s days (%(start)s to %(end)s), proposed vs current:",
                             days="{days}", start="{from}", end="{to}"),
            "no_standards": gettext("The file has no standards."),
            "headings": [gettext("Standard"), gettext("Current"), gettext("Proposed"), gettext("Change"),
                         gettext("Clocks (proposed)")],
            "counts": gettext("%(met)s met · %(missed)s missed · %(open)s open · %(cancelled)s cancelled",
                              met="{met}", missed="{missed}", open="{open}", cancelled="{cancelled}"),
            "new_standard": gettext("new standard"),
            "first_cases": gettext("%(counts)s (first cases only)", counts="{counts}"),
            "points": gettext("%(change)s pt", change="{change}"),
            "replaying": gettext("Replaying the stored events…"),
            "refused": gettext("The monitor refused (%(status)s).", status="{status}"),
            "unreachable": gettext("Could not reach the monitor.")}


def editor_words() -> dict[str, str]:
    """What editor.js writes, in the page's language."""
    return {"position": gettext("line %(line)s, column %(column)s", line="{line}", column="{column}"),
            "refused": gettext("Refused"),
            "problems_one": gettext("%(message)s — 1 problem:", message="{message}"),
            "problems_many": gettext("%(message)s — %(count)s problems:", message="{message}", count="{count}"),
            "saving": gettext("Saving…"),
            "not_saved": gettext("Could not reach the monitor; nothing was saved."),
            "saved": gettext("Saved as version %(version)s; in force now and written to the standards directory.",
                             version="{version}"),
            "saved_over": gettext("Saved as version %(version)s (you edited version %(was)s); in force now and "
                                  "written to the standards directory.", version="{version}", was="{was}"),
            "editing": gettext("Editing version %(version)s.", version="{version}"),
            "conflict": gettext("Not saved: someone else saved version %(current)s (%(author)s, %(at)s) after you "
                                "opened version %(version)s. Your text is still here. Look at theirs, then save yours "
                                "over it if it should win.", current="{current}", author="{author}", at="{at}",
                                version="{version}"),
            "conflict_unknown": gettext("Not saved: someone else saved a newer version after you opened version "
                                        "%(version)s. Your text is still here. Look at theirs, then save yours over it "
                                        "if it should win.", version="{version}"),
            "replaying": gettext("Replaying the stored events through your text and the version in force…"),
            "authors": {FILE_AUTHOR: author_word(FILE_AUTHOR)}}


def _no_such_file():
    return render_template("pages/error.html", status=404, title=gettext("No such file"),
                           message=gettext("A standards file name looks like restaurant.yaml.")), 404


@pages.get("/standards/files/<name>/edit")
@page("operations")
def edit_file(name: str):
    if not FILE_NAME.fullmatch(name):
        return _no_such_file()
    with runtime().db.read_session() as session:
        versions = repository.version_list(session, name)
        current = repository.latest_version(session, name)
    text = current.text if current else ""
    return render_template("pages/editor.html", name=name, text=text,
                           version=versions[0].version if versions else 0, versions=versions,
                           editor_words=editor_words(), backtest_words=backtest_words())


@pages.get("/standards/files/<name>/history")
@page(*PEOPLE)
def file_history(name: str):
    """Every version with author, time and diff; each can be back-tested against the one in force."""
    if not FILE_NAME.fullmatch(name):
        return _no_such_file()
    with runtime().db.read_session() as session:
        versions = repository.file_versions(session, name)
    if not versions:
        return _no_such_file()
    return render_template("pages/history.html", name=name, versions=versions,
                           texts={v.version: v.text for v in versions}, backtest_words=backtest_words())
