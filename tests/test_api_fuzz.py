"""Schemathesis against the app's own OpenAPI document (issue #6, item 4b).

The Flask app runs in process (``schemathesis.openapi.from_wsgi``, schemathesis 4.x), seeded with
events, alerts and dead letters so that the read endpoints have something to return. Every
operation of /api/v1/openapi.json except the SSE stream (it never ends) is called with generated
valid and invalid input under the admin bearer token, and each answer is checked:
- never a 5xx (``not_a_server_error``): errors are JSON 4xx, never a stack trace;
- the status code and content type are among those the document declares;
- the body conforms to the declared response schema.

Bounded to ``SMARTMON_API_FUZZ_EXAMPLES`` examples per operation (default 25); a longer run:
``SMARTMON_API_FUZZ_EXAMPLES=1000 python -m pytest tests/test_api_fuzz.py``. The tests at the end pin
inputs that once got a 500.
"""
from __future__ import annotations

import json
import os
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from monitor.ingest import Delivery
from tests.conftest import app_config
from tests.harness.processes import ADMIN
from tests.faults import write_standards

EXAMPLES = int(os.environ.get("SMARTMON_API_FUZZ_EXAMPLES", "25"))
AUTH = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture(scope="module")
def api_app(tmp_path_factory):
    from monitor.app import create_app

    directory = write_standards(tmp_path_factory.mktemp("api-fuzz-standards"))
    app = create_app(app_config(f"sqlite:///{tmp_path_factory.mktemp('api-fuzz')}/api.db",
                                standards={"dir": str(directory)}))
    runtime = app.extensions["smartmon"]
    now = datetime.now(timezone.utc)
    seed = [{"id": str(uuid.uuid4()), "case": f"table/{n}", "type": "opened",
             "at": (now - timedelta(minutes=n)).isoformat(), "staff": "ann", "attrs": {"table": n}}
            for n in range(1, 6)]  # past their 20 s deadline: breach and escalation open at once
    seed.append({"id": str(uuid.uuid4()), "case": "table/1", "type": "closed", "at": now.isoformat()})
    runtime.ingestor.ingest([Delivery(json.dumps(seed).encode(), "http:/api/v1/events"),
                             Delivery(b"{not json", "http:/api/v1/events")])
    yield app
    runtime.db.dispose()


@pytest.fixture
def api_schema(api_app):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api_app)


schema = schemathesis.pytest.from_fixture("api_schema").exclude(path="/alerts/stream")  # SSE never ends
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
def test_api_never_answers_5xx_and_keeps_to_its_document(case):
    case.call_and_validate(headers=AUTH, checks=CHECKS)


def test_every_authenticated_operation_documents_its_401(api_app):
    client = api_app.test_client()
    document = client.get("/api/v1/openapi.json").json
    undocumented = [f"{method.upper()} {path}" for path, operations in document["paths"].items()
                    for method, operation in operations.items()
                    if operation.get("security") != [] and "401" not in operation["responses"]]
    assert client.get("/api/v1/standards").status_code == 401
    assert undocumented == []


@pytest.mark.parametrize("path", ["/api/v1/alerts", "/api/v1/dead-letters", "/api/v1/standards/files/reliability.yaml/versions"])
def test_a_huge_offset_is_a_400_not_a_500(api_app, path):
    response = api_app.test_client().get(f"{path}?offset={2**63}", headers=AUTH)
    assert response.status_code == 400, response.json


def test_a_report_window_from_the_first_day_of_the_calendar_is_answered_not_a_500(api_app):
    client = api_app.test_client()
    assert client.get("/api/v1/reports/compliance?from=2026-01-01&to=8999-12-31", headers=AUTH).status_code == 200
    response = client.get("/api/v1/reports/compliance?from=0001-01-01&to=2026-01-01", headers=AUTH)
    assert response.status_code < 500, response.json


@pytest.mark.parametrize("body", [
    b'{"id": "h-1", "case": "c", "type": "noted", "at": "0001-01-01T00:30:00+01:00"}',
    b'{"id": "\\ud800", "case": "c", "type": "noted", "at": "2026-01-01T00:00:00Z"}',
], ids=["year 1", "lone surrogate"])
def test_post_events_answers_4xx_with_a_dead_letter_for_input_it_cannot_store(api_app, body):
    response = api_app.test_client().post("/api/v1/events", data=body, headers=AUTH)
    assert 400 <= response.status_code < 500, response.json
