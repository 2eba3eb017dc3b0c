"""Standards: what is in force, the raw files with their versions, and live edits."""
from __future__ import annotations

import re
from datetime import date, datetime, timezone

from flask import Response, jsonify, request

from monitor.api import api, current_identity, int_arg, page, page_args, require, runtime
from monitor.core.smart import static_findings, static_grade
from monitor.core.standards import StandardSet
from monitor.core.messages import msg
from monitor.core.targets import stale_descriptions
from monitor.errors import ApiError
from monitor.i18n import current_translator
from monitor.loader import StandardsError
from monitor.registry import VersionConflict
from monitor.review import backtest, default_window, smart_evaluation
from monitor.serializers import iso, standard_json
from monitor.standards_dir import DirectoryError
from monitor.store import repository

FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,150}\.yaml")  # fullmatch: "x.yaml\n" is no name


def _file_name(name: str) -> str:
    if not FILE_NAME.fullmatch(name):
        raise ApiError(400, "bad_request", msg("a standards file name looks like restaurant.yaml"))
    return name


@api.get("/standards")
@require()
def list_standards():
    current = runtime().registry.current
    today = date.today()
    items = []
    for standard in current.standards:
        criteria = static_findings(standard, current.catalogue, today)
        items.append({**standard_json(standard), "smart": {
            "grade": static_grade(criteria).value,
            "criteria": {name: criterion.status.value for name, criterion in criteria.items()}}})
    return jsonify({"items": items, "next": None})


@api.get("/standards/<standard_id>/smart")
@require()
def standard_smart(standard_id: str):
    rt = runtime()
    standard = rt.registry.current.get(standard_id)
    if standard is None:
        raise ApiError(404, "not_found", msg("no standard with id {id} is in force", id=repr(standard_id)))
    days = int_arg("days", 28)
    if not 1 <= days <= 3660:
        raise ApiError(400, "bad_request", msg("days must be between 1 and 3660"))
    now = datetime.now(timezone.utc)
    with rt.db.read_session() as session:
        result = smart_evaluation(session, rt.registry.current, standard, default_window(now, days), now.date())
    return jsonify(result.to_json(current_translator()))


@api.post("/standards/<standard_id>/rejudge")
@require("operations")
def rejudge_standard(standard_id: str):
    """Re-judge the clocks that started in ``{from, to}`` with the version in force now (SPEC §3.2, §6)."""
    from monitor.rejudge import RejudgeError, parse_instant

    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", msg("send a JSON object: {example}", example='{"from": "2026-11-01", "to": "2026-12-01"}'))
    dry_run = body.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise ApiError(400, "bad_request", msg("dry_run must be true or false"))
    try:
        start, end = parse_instant("from", body.get("from")), parse_instant("to", body.get("to"))
        result = runtime().rejudge(standard_id, start, end, current_identity().name, dry_run=dry_run)
    except RejudgeError as exc:
        raise ApiError(exc.status, "not_found" if exc.status == 404 else "bad_request", exc.message) from None
    return jsonify(result.to_json())


@api.post("/standards/backtest")
@require("operations")
def backtest_standards():
    name = _file_name(request.args.get("file", "proposed.yaml"))
    days = int_arg("days", 28)
    if not 1 <= days <= 3660:
        raise ApiError(400, "bad_request", msg("days must be between 1 and 3660"))
    rt = runtime()
    proposed = _proposed(rt, name, _yaml_body())
    now = datetime.now(timezone.utc)
    window = default_window(now, days)
    changed = proposed.file(name)
    with rt.db.read_session() as session:
        results = backtest(session, rt.registry.current, StandardSet((changed,)), window, now)
    return jsonify({"file": name, "window": {"from": iso(window[0]), "to": iso(window[1])}, "standards": results,
                    "warnings": _warnings(rt.registry.current.standards, changed.standards)})


def _warnings(before, after) -> list[str]:
    """A save's or back-test's warnings in the request's language."""
    translate = current_translator()
    return [translate(w) for w in stale_descriptions(before, after)]


def _yaml_body() -> str:
    try:
        return request.get_data().decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "bad_request", msg("send the YAML as UTF-8 text")) from None


def _problems(name: str, exc: StandardsError) -> ApiError:
    words = current_translator()
    details = [{"file": p.file, "line": p.line, "column": p.column, "message": words(p.words)} for p in exc.problems]
    return ApiError(422, "invalid_standards", msg("{name} was refused; nothing changed", name=name), details)


def _proposed(rt, name: str, text: str) -> StandardSet:
    try:
        return rt.registry.propose(name, text)
    except StandardsError as exc:
        raise _problems(name, exc) from None


@api.get("/standards/files/<name>")
@require()
def get_file(name: str):
    with runtime().db.read_session() as session:
        row = repository.latest_version(session, _file_name(name))
    if row is None:
        raise ApiError(404, "not_found", msg("no standards file named {name}", name=name))
    return Response(row.text, mimetype="application/yaml", headers={"ETag": f'"{row.version}"'})


def _if_match() -> int | None:
    header = request.headers.get("If-Match")
    if not header or header.strip() == "*":
        return None
    try:
        return int(header.strip().strip('W/').strip('"'))
    except ValueError:
        raise ApiError(400, "bad_request", msg('If-Match must name a version, e.g. {example}', example='If-Match: "3"')) from None


@api.put("/standards/files/<name>")
@require("operations")
def put_file(name: str):
    name = _file_name(name)
    text = _yaml_body()
    registry = runtime().registry
    before = registry.current.standards
    try:
        version = registry.save(name, text, current_identity().name, _if_match())
    except VersionConflict as exc:
        raise ApiError(412, "precondition_failed", exc.message) from None
    except DirectoryError as exc:
        raise ApiError(503, "standards_directory", msg("{problem}; nothing changed", problem=exc.message)) from None
    except StandardsError as exc:
        raise _problems(name, exc) from None
    saved = registry.current.file(name)
    response = jsonify({"file": name, "version": version,
                        "warnings": _warnings(before, saved.standards if saved else ())})
    response.headers["ETag"] = f'"{version}"'
    return response, 200


@api.get("/standards/files/<name>/versions")
@require()
def file_versions(name: str):
    limit, offset = page_args()
    with runtime().db.read_session() as session:
        if not repository.version_count(session, _file_name(name)):
            raise ApiError(404, "not_found", msg("no standards file named {name}", name=name))
        rows = repository.file_versions(session, name, limit + 1, offset)
    items = [{"file": r.file, "version": r.version, "author": r.author, "created_at": iso(r.created_at),
              "diff": r.diff} for r in rows[:limit]]
    return jsonify(page(items, limit, offset, len(rows) > limit))
