"""Standards: what is in force, the raw files with their versions, and live edits."""
from __future__ import annotations

import re

from flask import Response, jsonify, request
from sqlalchemy import func, select

from monitor.api import api, current_identity, page, page_args, require, runtime
from monitor.errors import ApiError
from monitor.loader import StandardsError
from monitor.registry import VersionConflict
from monitor.store.models import StandardsVersion
from monitor.views import iso, standard_json

FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,150}\.yaml$")


def _file_name(name: str) -> str:
    if not FILE_NAME.match(name):
        raise ApiError(400, "bad_request", "a standards file name looks like restaurant.yaml")
    return name


@api.get("/standards")
@require()
def list_standards():
    standards = runtime().registry.current.standards
    return jsonify({"items": [standard_json(s) for s in standards], "next": None})


@api.get("/standards/files/<name>")
@require()
def get_file(name: str):
    with runtime().db.session() as session:
        row = session.scalars(select(StandardsVersion).where(StandardsVersion.file == _file_name(name))
                              .order_by(StandardsVersion.version.desc()).limit(1)).first()
    if row is None:
        raise ApiError(404, "not_found", f"no standards file named {name}")
    return Response(row.text, mimetype="application/yaml", headers={"ETag": f'"{row.version}"'})


def _if_match() -> int | None:
    header = request.headers.get("If-Match")
    if not header or header.strip() == "*":
        return None
    try:
        return int(header.strip().strip('W/').strip('"'))
    except ValueError:
        raise ApiError(400, "bad_request", 'If-Match must name a version, e.g. If-Match: "3"') from None


@api.put("/standards/files/<name>")
@require("operations")
def put_file(name: str):
    name = _file_name(name)
    try:
        text = request.get_data().decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "bad_request", "send the YAML as UTF-8 text") from None
    try:
        version = runtime().registry.save(name, text, current_identity().name, _if_match())
    except VersionConflict as exc:
        raise ApiError(412, "precondition_failed", str(exc)) from None
    except StandardsError as exc:
        details = [{"file": p.file, "line": p.line, "column": p.column, "message": p.message} for p in exc.problems]
        raise ApiError(422, "invalid_standards", f"{name} was refused; nothing changed", details) from None
    response = jsonify({"file": name, "version": version})
    response.headers["ETag"] = f'"{version}"'
    return response, 200


@api.get("/standards/files/<name>/versions")
@require()
def file_versions(name: str):
    limit, offset = page_args()
    with runtime().db.session() as session:
        total = session.scalar(select(func.count()).where(StandardsVersion.file == _file_name(name)))
        if not total:
            raise ApiError(404, "not_found", f"no standards file named {name}")
        rows = session.scalars(select(StandardsVersion).where(StandardsVersion.file == name)
                               .order_by(StandardsVersion.version.desc()).offset(offset).limit(limit + 1)).all()
    items = [{"file": r.file, "version": r.version, "author": r.author, "created_at": iso(r.created_at),
              "diff": r.diff} for r in rows[:limit]]
    return jsonify(page(items, limit, offset, len(rows) > limit))
