"""Who may see a page: the login session, the API's bearer token, or ``?token=`` for wall screens.

``?token=<api token>`` on a page the token's role may open signs that browser in (a session bound
to that token) and redirects to the same address without the token, so the secret does not stay
in the address bar, the history or a Referer. The board's EventSource and its acknowledge calls
then ride on the session cookie, as a person's would (EventSource cannot send an Authorization
header). A token whose role may not open the page — a device token on anything but the tablet —
gets ``403`` and no session.
"""
from __future__ import annotations

import functools
from typing import Any, Callable
from urllib.parse import unquote, urlencode, urlsplit

from flask import redirect, render_template, request, session, url_for
from flask_babel import gettext

from monitor.api import current_identity, runtime
from monitor.auth import Identity, identify_token
from monitor.api import sessions

#: People's roles. ``device`` tokens get no pages; ``admin`` may open every page.
PEOPLE = ("manager", "operations", "auditor")
ACK_ROLES = ("manager",)


def sign_in(identity: Identity) -> None:
    """A fresh server-side session for ``identity`` (nothing of an earlier login survives)."""
    sessions.start(session, identity)


def _is_local_path(target: str) -> bool:
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in target) or "\\" in target:
        return False  # browsers drop tab/CR/LF ("/\t/evil.example" is "//evil.example") and read \ as /
    parts = urlsplit(target)
    return (target.startswith("/") and not target.startswith("//") and not parts.scheme and not parts.netloc)


def local_target(target: str | None) -> str:
    """Where to go after login: a path on this site only; anything else goes to the board.

    The value and its percent-decoding must both be a plain path, so no ``//evil.example``,
    ``/%2F/evil.example``, ``/\\evil.example``, ``https://…``, ``javascript:…`` or control character
    (a CR/LF in a Location header would also be refused by the server with a 500).
    """
    if not target or not _is_local_path(target) or not _is_local_path(unquote(target)):
        return url_for("pages.board")
    return target


def _without_token() -> str:
    query = [(k, v) for k, v in request.args.items(multi=True) if k != "token"]
    return request.path + (f"?{urlencode(query)}" if query else "")


def _forbidden(identity: Identity, roles: tuple[str, ...]) -> Any:
    return render_template("pages/error.html", status=403, title=gettext("Not for your role"),
                           message=gettext("This page is for %(roles)s; you are signed in as %(name)s (%(role)s).",
                                           roles=" / ".join(roles), name=identity.name, role=identity.role)), 403


def _token_sign_in(roles: tuple[str, ...]) -> Any:
    with runtime().db.read_session() as db_session:
        identity = identify_token(db_session, request.args["token"], runtime().config.admin_token)
    if identity is None:
        session.clear()
        return render_template("pages/login.html", error=gettext("That link's token is not valid (revoked or "
                                                                  "mistyped). Sign in with your name and password."),
                               next=_without_token()), 401
    if not identity.may(roles):
        # No session either: a device token must not become a page session (SPEC §6.1).
        return _forbidden(identity, roles)
    sign_in(identity)
    return redirect(_without_token())


def page(*roles: str) -> Callable:
    """A page for people with one of ``roles`` (admin has all); ``g.identity`` is set inside."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if request.args.get("token") and request.method == "GET":
                return _token_sign_in(roles)
            identity = current_identity()
            if identity is None:
                if request.headers.get("Authorization"):
                    return render_template("pages/error.html", status=401, title=gettext("Not signed in"),
                                           message=gettext("The bearer token was not accepted.")), 401
                return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))
            if not identity.may(roles):
                return _forbidden(identity, roles)
            return view(*args, **kwargs)

        return wrapper

    return decorator


# Everything the pages load comes from this origin; no inline script or style, so an injected
# string (a case name, an event attribute) can never run.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def secure_headers(response):
    """On every answer, pages and API alike: nothing sniffed, framed or cached but static files."""
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint != "pages.static":
        # Live data (a wall screen coming back from sleep must not show a cached board), and API
        # answers that may hold personal data must not stay in a shared cache.
        response.headers["Cache-Control"] = "no-store"
    return response
