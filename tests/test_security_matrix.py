"""Every endpoint and page × every role × every way of presenting a credential (SPEC §6, §6.1).

Presentations: an ``Authorization: Bearer`` header, a login session (people sign in with the
form; a device's session is the one the staff tablet opens with ``?token=``), and ``?token=`` on
the address itself. The table names the roles of each endpoint; a new route without a row fails
the coverage test, so nothing is added unchecked.
"""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from monitor.auth import create_token, create_user
from tests.conftest import send
from tests.harness.processes import ADMIN
from tests.test_web import PASSWORD, T, sign_in

ANY = ("device", "manager", "operations", "auditor", "admin")
PEOPLE = ("manager", "operations", "auditor", "admin")
PUBLIC = None
ROLES = ("device", "manager", "operations", "auditor", "admin", "nobody")

#: endpoint → (method, path, body, roles that may; PUBLIC = no credentials needed)
API = {
    "api.post_events": ("POST", "/api/v1/events", b"[]", ("device",)),
    "api.list_alerts": ("GET", "/api/v1/alerts", None, ANY),
    "api.ack_alert": ("POST", "/api/v1/alerts/no-such-alert/ack", b"{}", ("manager",)),
    "api.alert_stream": ("GET", "/api/v1/alerts/stream", None, ANY),
    "api.audit_verify": ("GET", "/api/v1/audit/verify", None, ("auditor",)),
    "api.get_case": ("GET", "/api/v1/cases/t1", None, ANY),
    "api.list_dead_letters": ("GET", "/api/v1/dead-letters", None, ("operations",)),
    "api.list_notifications": ("GET", "/api/v1/notifications", None, ("operations",)),
    "api.rejudge_standard": ("POST", "/api/v1/standards/greet/rejudge", b"{}", ("operations",)),
    "api.compliance_report": ("GET", "/api/v1/reports/compliance", None, ("auditor",)),
    "api.list_standards": ("GET", "/api/v1/standards", None, ANY),
    "api.standard_smart": ("GET", "/api/v1/standards/greet/smart", None, ANY),
    "api.backtest_standards": ("POST", "/api/v1/standards/backtest", b"not: [valid", ("operations",)),
    "api.get_file": ("GET", "/api/v1/standards/files/floor.yaml", None, ANY),
    "api.put_file": ("PUT", "/api/v1/standards/files/floor.yaml", b"not: [valid", ("operations",)),
    "api.file_versions": ("GET", "/api/v1/standards/files/floor.yaml/versions", None, ANY),
    "api.healthz": ("GET", "/api/v1/healthz", None, PUBLIC),
    "api.metrics": ("GET", "/api/v1/metrics", None, PUBLIC),
    "probes.healthz": ("GET", "/healthz", None, PUBLIC),
    "probes.metrics": ("GET", "/metrics", None, PUBLIC),
    "openapi.openapi_document": ("GET", "/api/v1/openapi.json", None, PUBLIC),
    "pages.tablet_state": ("GET", "/tablet/state", None, ("device",)),
}
PAGES = {
    "pages.board": ("/", PEOPLE),
    "pages.board_clocks": ("/board/clocks", PEOPLE),
    "pages.board_alerts": ("/board/alerts", PEOPLE),
    "pages.standards": ("/standards", PEOPLE),
    "pages.standard": ("/standards/greet", PEOPLE),
    "pages.edit_file": ("/standards/files/floor.yaml/edit", ("operations",)),
    "pages.file_history": ("/standards/files/floor.yaml/history", PEOPLE),
    "pages.case": ("/cases/t1", PEOPLE),
    "pages.reports": ("/reports", ("auditor",)),
    "pages.audit": ("/audit", ("auditor",)),
    "pages.dead_letters": ("/dead-letters", ("operations",)),
    "pages.tablet": ("/tablet", ("device",)),
}
#: routes that take no credential by design: the sign-in pages and static files (the tablet's
#: service worker is one, served from the root only for its scope); the language switch is open to
#: everyone, as the login form it is on (tests/test_i18n.py)
NOT_IN_THE_MATRIX = {"static", "pages.static", "pages.login", "pages.logout", "pages.tablet_service_worker",
                     "pages.choose_language"}


def may(role: str, roles) -> bool:
    return roles is PUBLIC or (role != "nobody" and (role == "admin" or role in roles))


@pytest.fixture
def credentials(app, runtime) -> dict[str, str]:
    """role → bearer secret, and a person per people role (named after the role)."""
    secrets = {}
    with runtime.db.session() as session:
        for role in ANY:
            secrets[role] = create_token(session, role, ["bj-01"] if role == "device" else (), f"{role}-t")[1]
            if role != "device":
                create_user(session, f"{role}-p", role, PASSWORD)
    send(runtime, ("s1", "t1", "seated", T))
    return secrets


def session_client(app, runtime, role: str, secrets: dict[str, str]):
    client = app.test_client()
    if role == "device":  # the staff tablet's session, opened as staff do: /tablet?token= once
        assert client.get(f"/tablet?token={secrets['device']}").status_code in (302, 303)
        assert client.get_cookie("session") is not None
    elif role != "nobody":
        assert sign_in(client, f"{role}-p").status_code == 302
    return client


def call(client, method: str, path: str, body: bytes | None, headers: dict | None = None):
    response = client.open(path, method=method, data=body, headers=headers or {},
                           content_type="application/json" if body and path.endswith("/events") else None)
    response.close()  # the stream endpoint answers with a generator: give its slot back
    return response


def test_every_route_is_in_the_matrix(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()} - NOT_IN_THE_MATRIX
    missing = endpoints - set(API) - set(PAGES)
    assert not missing, f"add these endpoints to tests/test_security_matrix.py with their roles: {sorted(missing)}"


@pytest.mark.parametrize("presentation", ["bearer", "session", "query"])
def test_each_api_endpoint_answers_each_role_as_the_spec_says(app, runtime, credentials, presentation):
    wrong = []
    for role in ROLES:
        client = session_client(app, runtime, role, credentials) if presentation == "session" else app.test_client()
        for endpoint, (method, path, body, roles) in API.items():
            headers, target = {}, path
            if presentation == "bearer" and role != "nobody":
                headers["Authorization"] = f"Bearer {credentials[role]}"
            if presentation == "query" and role != "nobody":
                target = f"{path}{'&' if '?' in path else '?'}token={credentials[role]}"
            response = call(client, method, target, body, headers)
            if presentation == "query":  # the API never takes a token from the address
                expected = "ok" if roles is PUBLIC else "401"
            else:
                expected = "ok" if may(role, roles) else ("401" if role == "nobody" else "403")
            got = "401" if response.status_code == 401 else "403" if response.status_code == 403 else "ok"
            if got != expected or response.status_code >= 500:
                wrong.append((endpoint, role, presentation, response.status_code, expected))
            if response.headers.get("X-Content-Type-Options") != "nosniff" or \
                    response.headers.get("Cache-Control") != "no-store":
                wrong.append((endpoint, role, presentation, "headers", dict(response.headers)))
            if got == "403":
                assert response.json["error"]["code"] == "forbidden"
    assert not wrong, wrong


@pytest.mark.parametrize("presentation", ["bearer", "session", "query"])
def test_each_page_answers_each_role_as_the_spec_says(app, runtime, credentials, presentation):
    wrong = []
    for role in ROLES:
        for endpoint, (path, roles) in PAGES.items():
            client = session_client(app, runtime, role, credentials) if presentation == "session" \
                else app.test_client()
            headers, target = {}, path
            if presentation == "bearer" and role != "nobody":
                headers["Authorization"] = f"Bearer {credentials[role]}"
            if presentation == "query" and role != "nobody":
                target = f"{path}?token={credentials[role]}"
            response = client.get(target, headers=headers)
            if role == "nobody":
                ok = response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"
            elif not may(role, roles):
                # Refused, and a refused ?token= leaves no session behind (a device token least of all).
                ok = response.status_code == 403 and (presentation != "query" or client.get_cookie("session") is None)
            elif presentation == "query":
                # Signed in with the token, sent to the same page without it, and that page opens.
                ok = (response.status_code == 302 and response.headers["Location"] == path
                      and client.get(path).status_code == 200)
            else:
                ok = response.status_code == 200
            if not ok:
                wrong.append((endpoint, role, presentation, response.status_code))
            if response.headers.get("Cache-Control") != "no-store":
                wrong.append((endpoint, role, presentation, "cache", response.headers.get("Cache-Control")))
    assert not wrong, wrong


def test_a_session_opened_with_a_token_has_exactly_that_tokens_role_and_sites(app, runtime, credentials):
    """No session widens a token: the device's session may post for its site only, the manager's
    session opened with ?token= is a manager, not more."""
    from monitor.store.models import DeadLetter

    device = session_client(app, runtime, "device", credentials)
    payload = b'[{"id": "x1", "case": "c", "type": "seated", "at": "%s", "site": "sh-02"}]' % T.isoformat().encode()
    assert call(device, "POST", "/api/v1/events", payload).status_code == 422
    with runtime.db.read_session() as session:
        assert session.scalars(select(DeadLetter)).all()
    manager = app.test_client()
    assert manager.get(f"/?token={credentials['manager']}").status_code == 302
    assert manager.get("/reports").status_code == 403
    assert manager.get("/api/v1/audit/verify").status_code == 403
    assert manager.get("/api/v1/alerts", headers={"Authorization": f"Bearer {ADMIN}x"}).status_code == 401
