"""The Flask application factory."""
from __future__ import annotations

from typing import Any, Mapping

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from monitor import errors, i18n, logs
from monitor.config import Config
from monitor.runtime import Runtime


def create_app(test_config: Mapping[str, Any] | None = None, *, config: Config | None = None,
               prepare: bool = True) -> Flask:
    """Build the app: configuration, services (database migrated, standards loaded), blueprints.

    ``test_config`` overrides configuration keys (nested dicts as in config.yaml). Background
    work (MQTT, scheduler) is started by the CLI, not here, so tests and web processes choose.
    """
    config = config or Config.load(overrides=test_config)
    logs.hide(config.admin_token, config.admin_password, config.mqtt.password, config.web.secret_key)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024 * 1024
    # Lax keeps the login cookie off cross-site POSTs; the API's same-origin check is the second line.
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    # Secure always when configured; otherwise whenever the request came over HTTPS (sessions.py).
    app.config["SESSION_COOKIE_SECURE"] = config.web.secure_cookies
    proxies = config.web.trusted_proxies
    if proxies:
        # Client address (login throttling, stream caps), scheme (Secure cookies) and host as the
        # proxy saw them; only as many hops as are configured, so a client cannot forge them.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies)
    runtime = Runtime(config)
    if prepare:
        runtime.prepare()
    app.extensions["smartmon"] = runtime
    from monitor.api import sessions
    from monitor.web import throttle
    from monitor.web.errors import http_error_page
    from monitor.web.security import secure_headers

    app.secret_key = sessions.shared_secret(runtime.db, config.web.secret_key)
    logs.hide(app.secret_key)
    sessions.init_app(app, runtime.db, config, app.secret_key)
    errors.init_app(app, page_error=http_error_page)
    i18n.init_app(app, config.default_timezone.key)
    app.after_request(secure_headers)

    from monitor.web.format import CaseConverter

    app.url_map.converters["case"] = CaseConverter
    from monitor.api import api
    from monitor.api.health import probes

    app.register_blueprint(api)
    app.register_blueprint(probes)
    from monitor.api.openapi import openapi_blueprint

    app.register_blueprint(openapi_blueprint)
    from monitor.web import pages

    app.register_blueprint(pages)
    throttle.init_app(app, runtime.db)
    return app
