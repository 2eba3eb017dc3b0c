"""Health and metrics, for load balancers and Prometheus (no authentication)."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from monitor.api import api, runtime

probes = Blueprint("probes", __name__)


def _health():
    rt = runtime()
    problems = {}
    try:
        rt.db.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means the database is down for us
        problems["database"] = f"down: {str(exc).splitlines()[0][:200]}"
    if rt.bridge is not None and not rt.bridge.subscribed.is_set():
        problems["mqtt"] = "down: not subscribed to the broker"
    body = {"status": "ok" if not problems else "down", "database": problems.get("database", "ok")}
    if rt.bridge is not None:
        body["mqtt"] = problems.get("mqtt", "ok")
    return jsonify(body), 200 if not problems else 503


def _metrics():
    return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)


for blueprint in (api, probes):
    blueprint.add_url_rule("/healthz", "healthz", _health)
    blueprint.add_url_rule("/metrics", "metrics", _metrics)
