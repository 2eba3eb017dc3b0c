"""Who may see a page: the login session, the API's bearer token, or ``?token=`` for wall screens.

``?token=<api token>`` on any page signs that browser in with the token's name and role and
redirects to the same address without the token, so the secret does not stay in the address bar,
the history or a Referer. The board's EventSource and its acknowledge calls then ride on the
session cookie, as a person's would (EventSource cannot send an Authorization header).
"""
from __future__ import annotations

import functools
from typing import Any, Callable
from urllib.parse import urlencode

from flask import g, redirect, render_template, request, session, url_for

from monitor.api import current_identity, runtime
from monitor.auth import Identity, identify_token

#: People's roles. ``device`` tokens get no pages; ``admin`` may open every page.
PEOPLE = ("manager", "operations", "auditor")
ACK_ROLES = ("manager",)


def sign_in(identity: Identity) -> None:
    """A fresh session for ``identity`` (cleared first, so nothing of an earlier login survives)."""
    session.clear()
    session["user"] = identity.name
    session["role"] = identity.role
    g.pop("identity", None)


def local_target(target: str | None) -> str:
    """Where to go after login: a path on this site only (no ``//evil.example`` or ``https://…``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("pages.board")
    return target


def _without_token() -> str:
    query = [(k, v) for k, v in request.args.items(multi=True) if k != "token"]
    return request.path + (f"?{urlencode(query)}" if query else "")


def _token_sign_in() -> Any:
    with runtime().db.read_session() as db_session:
        identity = identify_token(db_session, request.args["token"], runtime().config.get("admin_token"))
    if identity is None:
        session.clear()
        return render_template("pages/login.html", error="That link's token is not valid (revoked or mistyped). "
                                                          "Sign in with your name and password.",
                               next=_without_token()), 401
    sign_in(identity)
    return redirect(_without_token())


def page(*roles: str) -> Callable:
    """A page for people with one of ``roles`` (admin has all); ``g.identity`` is set inside."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if request.args.get("token") and request.method == "GET":
                return _token_sign_in()
            identity = current_identity()
            if identity is None:
                if request.headers.get("Authorization"):
                    return render_template("pages/error.html", status=401, title="Not signed in",
                                           message="The bearer token was not accepted."), 401
                return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))
            if not identity.may(roles):
                return render_template("pages/error.html", status=403, title="Not for your role",
                                       message=f"This page is for {' or '.join(roles)}; you are signed in as "
                                               f"{identity.name} ({identity.role})."), 403
            return view(*args, **kwargs)

        return wrapper

    return decorator


# Everything the pages load comes from this origin; no inline script or style, so an injected
# string (a case name, an event attribute) can never run.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def secure_headers(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint != "pages.static":
        # Live data: a wall screen coming back from sleep must not show a cached board.
        response.headers.setdefault("Cache-Control", "no-store")
    return response
