"""The Flask application factory."""
from __future__ import annotations

import logging
import os
import secrets
from typing import Any, Mapping

from flask import Flask

from monitor import errors
from monitor.config import Config
from monitor.runtime import Runtime


def create_app(test_config: Mapping[str, Any] | None = None, *, config: Config | None = None,
               prepare: bool = True) -> Flask:
    """Build the app: configuration, services (database migrated, standards loaded), blueprints.

    ``test_config`` overrides configuration keys (nested dicts as in config.yaml). Background
    work (MQTT, scheduler) is started by the CLI, not here, so tests and web processes choose.
    """
    config = config or Config.load(overrides=test_config)
    app = Flask(__name__)
    app.config["SECRET_KEY"] = config.get("web.secret_key") or os.environ.get("MONITOR_SECRET_KEY") or secrets.token_hex(32)
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024 * 1024
    # Lax keeps the login cookie off cross-site POSTs; the API's same-origin check is the second line.
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = bool(config.get("web.secure_cookies"))
    runtime = Runtime(config)
    if prepare:
        runtime.prepare()
    app.extensions["smartmon"] = runtime
    errors.init_app(app)

    from monitor.api import api
    from monitor.api.health import probes

    app.register_blueprint(api)
    app.register_blueprint(probes)
    from monitor.api.openapi import openapi_blueprint

    app.register_blueprint(openapi_blueprint)
    from monitor.web import pages

    app.register_blueprint(pages)
    return app


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
