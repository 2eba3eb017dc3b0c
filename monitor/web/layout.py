"""What every page shares: the navigation a role may use, template filters, response headers."""
from __future__ import annotations

from datetime import timezone

from monitor.api import current_identity
from monitor.web import format as fmt
from monitor.web import pages
from monitor.web.security import ACK_ROLES, PEOPLE

#: (endpoint, label, roles) in menu order; a link is shown only to roles that may open it.
NAVIGATION = (
    ("pages.board", "Board", PEOPLE),
    ("pages.standards", "Standards", PEOPLE),
    ("pages.reports", "Reports", ("auditor",)),
    ("pages.audit", "Audit", ("auditor",)),
    ("pages.dead_letters", "Dead letters", ("operations",)),
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
