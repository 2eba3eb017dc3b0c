"""The JSON API under /api/v1: thin views that parse, call a service, and shape the answer."""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, current_app, g, request, session

from monitor.auth import ANY, Identity, identify_token
from monitor.core.messages import msg
from monitor.errors import ApiError
from monitor.runtime import Runtime

api = Blueprint("api", __name__, url_prefix="/api/v1")
MAX_LIMIT = 10_000
MAX_OFFSET = 1_000_000_000


def runtime() -> Runtime:
    return current_app.extensions["smartmon"]


def same_origin() -> bool:
    """True when a state-changing request comes from one of our own pages.

    Browsers send ``Origin`` on every cross-site POST (and ``Referer`` as a fallback on older
    ones); a request carrying neither is not from a browser page, so it cannot be cross-site
    request forgery. Only host and port are compared with the Host the request was sent to: a
    TLS-terminating proxy makes the scheme differ, but it must pass Host through unchanged.
    """
    sent_from = request.headers.get("Origin") or request.headers.get("Referer")
    if not sent_from:
        return True
    return urlsplit(sent_from).netloc.lower() == request.host.lower()


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def current_identity() -> Identity | None:
    """Bearer token first (devices, scripts, wall screens), then the login session."""
    if "identity" in g:
        return g.identity
    identity = None
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        with runtime().db.read_session() as db_session:
            identity = identify_token(db_session, header[7:].strip(), runtime().config.admin_token)
    elif getattr(session, "identity", None) is not None:
        if request.method not in SAFE_METHODS and not same_origin():
            # A cookie rides along on a forged cross-site form post; a bearer token never does.
            raise ApiError(403, "forbidden", msg("cross-site request refused: send it from this site's pages"))
        # As its binding stands now (monitor.api.sessions): a session opened with a device token
        # has that token's sites, so its events for another site are dead-lettered as with the header.
        identity = session.identity
    g.identity = identity
    return identity


def require(*roles: str) -> Callable:
    """Refuse with 401 without credentials, 403 with a role not in ``roles`` (admin has all)."""
    allowed: Sequence[str] = roles or ANY

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            identity = current_identity()
            if identity is None:
                raise ApiError(401, "unauthorized", msg("send 'Authorization: Bearer <token>' or log in"))
            if not identity.may(allowed):
                raise ApiError(403, "forbidden", msg("role {role} may not do this; needs one of {roles}",
                                                     role=repr(identity.role), roles=", ".join(allowed)))
            return view(*args, **kwargs)

        return wrapper

    return decorator


def page_args() -> tuple[int, int]:
    limit = int_arg("limit", 100)
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(400, "bad_request", msg("limit must be between 1 and {max}", max=MAX_LIMIT))
    offset = int_arg("offset", 0)
    if not 0 <= offset <= MAX_OFFSET:
        raise ApiError(400, "bad_request", msg("offset must be between 0 and {max}", max=MAX_OFFSET))
    return limit, offset


def int_arg(name: str, default: int) -> int:
    value = request.args.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ApiError(400, "bad_request", msg("{name} must be a whole number, not {value}", name=name, value=repr(value))) from None


def page(items: list[Any], limit: int, offset: int, has_more: bool) -> dict[str, Any]:
    """``{"items", "next"}`` with ``next`` the absolute path of the following page, query included."""
    next_path = None
    if has_more:
        query = {k: v for k, v in request.args.items() if k not in ("offset",)}
        query.update({"limit": limit, "offset": offset + limit})
        next_path = f"{request.path}?{urlencode(query)}"
    return {"items": items, "next": next_path}


from monitor.api import alerts, audit, cases, dead_letters, events, health, notifications, reports, standards  # noqa: E402,F401  (registers routes)
