"""One JSON error shape for the whole API: ``{"error": {"code", "message", "details"}}``."""
from __future__ import annotations

import logging
from typing import Any, Callable

from flask import Flask, jsonify, request

from monitor.core.messages import Message, msg
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)


class ApiError(Exception):
    """``message`` is a message id with parameters (translated for the request, SPEC §6.1) or a text
    that is already in its words (a rejection reason, a loader problem)."""

    def __init__(self, status: int, code: str, message: Message | str, details: Any = None) -> None:
        super().__init__(str(message))
        self.status, self.code, self.message, self.details = status, code, message, details


def error_body(status: int, code: str, message: Message | str, details: Any = None):
    if isinstance(message, Message):
        from monitor.i18n import current_translator

        message = current_translator()(message)
    response = jsonify({"error": {"code": code, "message": message, "details": details}})
    response.status_code = status
    return response


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path in ("/healthz", "/metrics") or request.accept_mimetypes.best == "application/json"


def init_app(app: Flask, page_error: Callable[[HTTPException], Any]) -> None:
    """JSON errors for the API; ``page_error`` answers an HTTP error a browser asked a page for."""
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_body(exc.status, exc.code, exc.message, exc.details)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if not _wants_json():
            return page_error(exc)
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_body(exc.code or 500, code, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        if not _wants_json():
            return page_error(InternalServerError())
        return error_body(500, "internal_error", msg("the server hit an unexpected error; it was logged"))
