"""The OpenAPI 3 document at /api/v1/openapi.json, built with apispec from the same schemas."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, jsonify

from monitor.reports.formats import FORMATS
from monitor.reports.groups import GROUP_KEYS
from monitor.schemas import EventSchema

openapi_blueprint = Blueprint("openapi", __name__)

ERROR = {"$ref": "#/components/responses/Error"}
TEXT = {"type": "string", "minLength": 1, "maxLength": 200}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(code): ERROR for code in (401, *codes)}


def _query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"in": "query", "name": name, "required": False, "schema": schema, "description": description}


def _path(name: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"in": "path", "name": name, "required": True, "schema": schema or TEXT}


PAGE = [_query("limit", {"type": "integer", "minimum": 1, "maximum": 10000, "default": 100}),
        _query("offset", {"type": "integer", "minimum": 0, "maximum": 1_000_000_000, "default": 0})]


def _page_of(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": ["items", "next"],
            "properties": {"items": {"type": "array", "items": item}, "next": {"type": "string", "nullable": True}}}


ALERT = {"type": "object", "properties": {name: {"type": "string", "nullable": True} for name in (
    "id", "kind", "standard", "site", "case", "state", "due_at", "opened_at", "to", "acknowledged_by", "note",
    "resolved_at", "resolution")}}
DATE = {"type": "string", "description": "YYYY-MM-DD or an RFC 3339 timestamp"}


def _paths(formats: tuple[str, ...], group_keys: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    event_ref = {"$ref": "#/components/schemas/Event"}
    return {
        "/events": {"post": {
            "summary": "Ingest one event or a batch of up to 1000 (SPEC §1)", "tags": ["events"],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "oneOf": [event_ref, {"type": "array", "items": event_ref, "minItems": 1, "maxItems": 1000}]}}}},
            "responses": {"202": _json({"type": "object", "properties": {
                "accepted": {"type": "integer"}, "duplicates": {"type": "integer"},
                "rejected": {"type": "array", "items": {"type": "object"}}}}, "Stored (and what was refused)"),
                **_errors(400, 403, 413, 422)}}},
        "/cases/{case}": {"get": {
            "summary": "A case's events and clocks", "tags": ["cases"], "parameters": [_path("case")],
            "responses": {"200": _json({"type": "object"}), **_errors(404)}}},
        "/alerts": {"get": {
            "summary": "Alerts, newest first", "tags": ["alerts"],
            "parameters": [_query("state", {"type": "string", "enum": ["open", "acknowledged", "resolved", "retracted"]}),
                           _query("site", {"type": "string"}), _query("standard", {"type": "string"}),
                           _query("kind", {"type": "string", "enum": ["warning", "breach", "escalation"]}), *PAGE],
            "responses": {"200": _json(_page_of(ALERT)), **_errors(400)}}},
        "/alerts/{id}/ack": {"post": {
            "summary": "Acknowledge an alert, with an optional note", "tags": ["alerts"],
            "parameters": [_path("id", {"type": "string", "maxLength": 36})],
            "requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"note": {"type": "string", "nullable": True, "maxLength": 1000}}}}}},
            "responses": {"200": _json(ALERT), **_errors(400, 403, 404, 409, 422)}}},
        "/alerts/stream": {"get": {
            "summary": "Server-Sent Events: one `alert` event per alert change; resume with Last-Event-ID",
            "tags": ["alerts"], "parameters": [{"in": "header", "name": "Last-Event-ID", "required": False,
                                                 "schema": {"type": "integer", "minimum": 0}}],
            "responses": {"200": {"description": "event stream", "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                          **_errors(400, 429)}}},
        "/standards": {"get": {"summary": "Standards in force with file, version and SMART grade",
                               "tags": ["standards"], "responses": {"200": _json(_page_of({"type": "object"})), **_errors()}}},
        "/standards/{id}/smart": {"get": {
            "summary": "SMART evaluation on the stored data (SPEC §4)", "tags": ["standards"],
            "parameters": [_path("id", {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,63}$"}),
                           _query("days", {"type": "integer", "minimum": 1, "maximum": 3660, "default": 28})],
            "responses": {"200": _json({"type": "object"}), **_errors(400, 404)}}},
        "/standards/{id}/rejudge": {"post": {
            "summary": "Re-judge the clocks that started in a window with the version in force now (SPEC §3.2); "
                       "recorded in the audit trail. dry_run: say what would change, change nothing",
            "tags": ["standards"],
            "parameters": [_path("id", {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,63}$"})],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["from", "to"], "properties": {
                    "from": {**DATE, "description": "first start instant (inclusive); a date is midnight UTC"},
                    "to": {**DATE, "description": "start instant the window stops before; a date is midnight UTC"},
                    "dry_run": {"type": "boolean", "default": False}}}}}},
            "responses": {"200": _json({"type": "object", "required": ["standard", "version", "clocks", "changed"],
                                        "properties": {
                "id": {"type": "integer", "nullable": True, "description": "the re-judgement (null on a dry run)"},
                "standard": {"type": "string"}, "file": {"type": "string"}, "version": {"type": "integer"},
                "from": {"type": "string"}, "to": {"type": "string"}, "by": {"type": "string"},
                "at": {"type": "string"}, "clocks": {"type": "integer", "description": "clocks of the window"},
                "changed": {"type": "integer", "description": "verdicts that changed"},
                "dry_run": {"type": "boolean"}}}, "Re-judged"), **_errors(400, 403, 404)}}},
        "/standards/files/{name}": {
            "get": {"summary": "The raw YAML text; ETag is the version", "tags": ["standards"],
                    "parameters": [_path("name")],
                    "responses": {"200": {"description": "YAML", "content": {"application/yaml": {"schema": {"type": "string"}}}},
                                  **_errors(400, 404)}},
            "put": {"summary": "Replace the file: validated, versioned, applied without restart", "tags": ["standards"],
                    "parameters": [_path("name"), {"in": "header", "name": "If-Match", "required": False,
                                                   "schema": {"type": "string"}}],
                    "requestBody": {"required": True, "content": {"application/yaml": {"schema": {"type": "string"}}}},
                    "responses": {"200": _json({"type": "object"}), **_errors(400, 403, 412, 422)}}},
        "/standards/files/{name}/versions": {"get": {
            "summary": "Version history (author, time, diff)", "tags": ["standards"],
            "parameters": [_path("name"), *PAGE], "responses": {"200": _json(_page_of({"type": "object"})), **_errors(400, 404)}}},
        "/standards/backtest": {"post": {
            "summary": "Compliance under a proposed file vs the current version over a past window",
            "tags": ["standards"], "parameters": [_query("days", {"type": "integer", "minimum": 1, "maximum": 3660}),
                                                   _query("file", {"type": "string"})],
            "requestBody": {"required": True, "content": {"application/yaml": {"schema": {"type": "string"}}}},
            "responses": {"200": _json({"type": "object"}), **_errors(400, 403, 422)}}},
        "/reports/compliance": {"get": {
            "summary": "Compliance per standard (SPEC §7)", "tags": ["reports"],
            "parameters": [_query("from", DATE), _query("to", DATE), _query("site", {"type": "string"}),
                           _query("standard", {"type": "string"}),
                           _query("group_by", {"type": "string", "description": f"comma-separated: {', '.join(group_keys)}"}),
                           _query("format", {"type": "string", "enum": list(formats)})],
            "responses": {"200": {"description": "the report in the asked format"}, **_errors(400, 403)}}},
        "/dead-letters": {"get": {
            "summary": "Rejected payloads with reasons, newest first", "tags": ["operations"], "parameters": PAGE,
            "responses": {"200": _json(_page_of({"type": "object", "properties": {
                "id": {"type": "integer"}, "received_at": {"type": "string"}, "source": {"type": "string"},
                "reason": {"type": "string"}, "raw": {"type": "string"}}})), **_errors(400, 403)}}},
        "/notifications": {"get": {
            "summary": "Notification messages and their delivery (SPEC §5.1), newest first", "tags": ["operations"],
            "parameters": [_query("state", {"type": "string", "enum": ["pending", "delivered", "failed"]}),
                           _query("receiver", {"type": "string"}), *PAGE],
            "responses": {"200": _json(_page_of({"type": "object", "properties": {
                "id": {"type": "string"}, "receiver": {"type": "string"},
                "alerts": {"type": "array", "items": {"type": "string"}},
                "state": {"type": "string", "enum": ["pending", "delivered", "failed"]},
                "attempts": {"type": "integer"}, "last_error": {"type": "string", "nullable": True},
                "created_at": {"type": "string"}, "delivered_at": {"type": "string", "nullable": True}}})),
                **_errors(400, 403)}}},
        "/audit/verify": {"get": {
            "summary": "Re-hash the live rows against the audit chain, then derive every clock and alert row again "
                       "from the chained rows; first_broken.kind names a chained row kind (event, device_status, "
                       "standards_version, alert_action, rejudgement, chain) or a derived one (clock, alert)",
            "tags": ["audit"],
            "parameters": [_query("head", {"type": "string", "description": "a head printed on an earlier report: "
                                                                         "it must still be in the chain"})],
            "responses": {"200": _json({"type": "object", "properties": {
                "ok": {"type": "boolean"}, "records": {"type": "integer"}, "head": {"type": "string"},
                "first_broken": {"type": "object", "nullable": True}}}), **_errors(400, 403)}}},
        "/healthz": {"get": {"summary": "200 when the database answers and the MQTT subscription is active",
                             "tags": ["probes"], "security": [],
                             "responses": {"200": _json({"type": "object"}), "503": _json({"type": "object"}, "down")}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "tags": ["probes"], "security": [],
                             "responses": {"200": {"description": "text exposition",
                                                   "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
    }


def document() -> dict[str, Any]:
    """Built once per set of report formats and group keys (the registries may grow after import)."""
    return _document(tuple(FORMATS), tuple(GROUP_KEYS))


@lru_cache(maxsize=4)
def _document(formats: tuple[str, ...], group_keys: tuple[str, ...]) -> dict[str, Any]:
    spec = APISpec(title="smartmon", version="1.0.0", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()],
                   info={"description": "Service-standard timing monitor. Errors are "
                                        '{"error": {"code", "message", "details"}}.'},
                   servers=[{"url": "/api/v1"}], security=[{"bearer": []}])
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Event", schema=EventSchema)
    spec.components.response("Error", _json({"type": "object", "required": ["error"], "properties": {
        "error": {"type": "object", "required": ["code", "message"], "properties": {
            "code": {"type": "string"}, "message": {"type": "string"}, "details": {}}}}}, "error"))
    for path, operations in _paths(formats, group_keys).items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


@openapi_blueprint.get("/api/v1/openapi.json")
def openapi_document():
    return jsonify(document())
