"""``/login`` and ``/logout``: a person's session, kept on the server (monitor.api.sessions).

Failed sign-ins are throttled (monitor.web.throttle, wrapped around ``login`` by create_app):
after 10 for one name or from one address within 5 minutes, ``429`` with ``Retry-After``.
"""
from __future__ import annotations

import logging

from flask import redirect, render_template, request, session, url_for
from flask_babel import gettext

from monitor.api import runtime, same_origin
from monitor.auth import check_login
from monitor.store import repository
from monitor.web import pages
from monitor.web.security import local_target, sign_in

log = logging.getLogger(__name__)


@pages.route("/login", methods=["GET", "POST"])
def login():
    target = local_target(request.values.get("next"))
    if request.method == "GET":
        return render_template("pages/login.html", next=target, error=None)
    if not same_origin():
        # Login CSRF: another site must not sign this browser in as someone else.
        return render_template("pages/login.html", next=target, error=gettext("This form must be sent from this site.")), 403
    name = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    identity = None
    if name and password:
        with runtime().db.read_session() as db_session:
            identity = check_login(db_session, name, password, admin_password=runtime().config.admin_password)
    if identity is None:
        _log_failure(name)
        return render_template("pages/login.html", next=target, username=name,
                               error=gettext("Unknown name or wrong password.")), 401
    sign_in(identity)
    log.info("%s (%s) signed in", identity.name, identity.role)
    return redirect(target)


def _log_failure(name: str) -> None:
    """A known name is logged; an unknown one is not: it is often a password typed in the wrong box."""
    with runtime().db.read_session() as db_session:
        known = name == "admin" or repository.user_exists(db_session, name)
    if known:
        log.info("failed login for %r from %s", name, request.remote_addr)
    else:
        log.info("failed login for an unknown name from %s", request.remote_addr)


@pages.errorhandler(429)
def too_many_attempts(_exc):
    message = gettext("Too many failed sign-ins for this name or from this address. Wait a few minutes and try again.")
    return render_template("pages/login.html", next=local_target(request.values.get("next")),
                           username=request.form.get("username", ""), error=message), 429


@pages.route("/logout", methods=["GET", "POST"])
def logout():
    session.clear()  # the server-side row goes with it (ServerSessionInterface.save_session)
    return redirect(url_for("pages.login"))
