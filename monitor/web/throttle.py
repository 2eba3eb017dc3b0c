"""Login throttling (SPEC §6) with Flask-Limiter, counted in the database so every web process shares it.

The counters live in the database (``monitor/store/rate_limits.py``), as nothing else is shared by
every web process.
Only failed sign-ins are counted (``deduct_when``), so after 10 failures for one user name or from
one address within 5 minutes every further attempt — a right password too — gets ``429`` with
``Retry-After`` until the oldest of those failures is 5 minutes old.
"""
from __future__ import annotations

import hashlib

from flask import Flask, request
from flask_limiter import Limiter

from monitor.store.db import Database
from monitor.store.rate_limits import DatabaseStorage  # noqa: F401 - importing it registers smartmon-db://

LOGIN_LIMIT = "10 per 5 minutes"


def client_address() -> str:
    return request.remote_addr or "unknown"


def login_name() -> str:
    """The name's budget key: case and spaces folded ("Mei " and "mei" share one), hashed because
    Flask-Limiter logs the key of a breached limit and a "name" is sometimes a mistyped password.
    Never empty: Flask-Limiter skips a limit whose key is empty."""
    name = request.form.get("username", "").strip().lower()
    return "user:" + hashlib.sha256(name.encode()).hexdigest()[:32]


def failed_login(response) -> bool:
    return response.status_code == 401


def init_app(app: Flask, db: Database, endpoint: str = "pages.login") -> Limiter:
    """A limiter of this app's own (its storage is this app's database) on the login view."""
    limiter = Limiter(key_func=client_address, app=app, strategy="moving-window", headers_enabled=True,
                      storage_uri="smartmon-db://", storage_options={"database": db})
    view = app.view_functions[endpoint]
    for scope, key in (("login-address", client_address), ("login-name", login_name)):
        view = limiter.limit(LOGIN_LIMIT, key_func=key, methods=["POST"], deduct_when=failed_login,
                             scope=scope)(view)
    app.view_functions[endpoint] = view
    app.extensions["smartmon.limiter"] = limiter
    return limiter
