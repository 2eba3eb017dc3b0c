"""What every page shares: the navigation a role may use, template filters, response headers."""
from __future__ import annotations

from datetime import timezone

from flask import redirect, request, session
from flask_babel import lazy_gettext as _l

from monitor import i18n
from monitor.api import runtime
from monitor.store import repository
from monitor.api import current_identity
from monitor.web import format as fmt
from monitor.web import pages
from monitor.web.security import ACK_ROLES, PEOPLE

#: (endpoint, label, roles) in menu order; a link is shown only to roles that may open it.
NAVIGATION = (
    ("pages.board", _l("Board"), PEOPLE),
    ("pages.standards", _l("Standards"), PEOPLE),
    ("pages.reports", _l("Reports"), ("auditor",)),
    ("pages.audit", _l("Audit"), ("auditor",)),
    ("pages.dead_letters", _l("Dead letters"), ("operations",)),
)


@pages.context_processor
def _page_context() -> dict:
    identity = current_identity()
    links = [(endpoint, label) for endpoint, label, roles in NAVIGATION if identity and identity.may(roles)]
    return {"identity": identity, "navigation": links,
            "may_ack": bool(identity and identity.may(ACK_ROLES)),
            "may_edit": bool(identity and identity.may(("operations",))), "utc": timezone.utc}


pages.add_app_template_filter(fmt.duration_words, "duration_words")
pages.add_app_template_filter(fmt.percent, "percent")
pages.add_app_template_filter(fmt.clock_time, "clock_time")
pages.add_app_template_filter(fmt.day_time, "day_time")
pages.add_app_template_filter(fmt.case_path, "case_path")
pages.add_app_template_filter(fmt.author_word, "author_word")


@pages.route("/language", methods=["POST"])
def choose_language():
    """The menu's language switch: saved on the user's row (a bootstrap admin has none: the
    session keeps it), then back to the page it was chosen on."""
    from monitor.web.security import local_target

    tag = i18n.parse_tag(request.form.get("lang")) or i18n.DEFAULT
    identity = current_identity()
    if identity is not None and identity.user_id is not None:
        with runtime().db.session() as db_session:
            repository.set_user_language(db_session, identity.user_id, tag)
    else:
        session["language"] = tag
    return redirect(local_target(request.form.get("return_to")))
