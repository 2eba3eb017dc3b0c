"""``/login`` and ``/logout``: a person's session (``session["user"]``, ``session["role"]``)."""
from __future__ import annotations

import logging

from flask import redirect, render_template, request, session, url_for

from monitor.api import runtime
from monitor.auth import check_login
from monitor.web import pages
from monitor.api import same_origin
from monitor.web.security import local_target, sign_in

log = logging.getLogger(__name__)


@pages.route("/login", methods=["GET", "POST"])
def login():
    target = local_target(request.values.get("next"))
    if request.method == "GET":
        return render_template("pages/login.html", next=target, error=None)
    if not same_origin():
        # Login CSRF: another site must not sign this browser in as someone else.
        return render_template("pages/login.html", next=target, error="This form must be sent from this site."), 403
    name = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    identity = None
    if name and password:
        with runtime().db.read_session() as db_session:
            identity = check_login(db_session, name, password, admin_password=runtime().config.get("admin_password"))
    if identity is None:
        log.info("failed login for %r from %s", name, request.remote_addr)
        return render_template("pages/login.html", next=target, username=name,
                               error="Unknown name or wrong password."), 401
    sign_in(identity)
    log.info("%s (%s) signed in", identity.name, identity.role)
    return redirect(target)


@pages.route("/logout", methods=["GET", "POST"])
def logout():
    session.clear()
    return redirect(url_for("pages.login"))
