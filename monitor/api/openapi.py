"""The OpenAPI document at /api/v1/openapi.json."""
from flask import Blueprint, jsonify

openapi_blueprint = Blueprint("openapi", __name__)


@openapi_blueprint.get("/api/v1/openapi.json")
def openapi_document():
    return jsonify({"openapi": "3.0.3", "info": {"title": "smartmon", "version": "1"}, "paths": {}})
