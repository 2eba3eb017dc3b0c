"""Web pages for people: login, the live board, standards, cases, reports.

Server-rendered Jinja templates with a little vanilla JavaScript (no build step, no CDN: the
floor's machines may have no internet). The pages read storage directly for what they show at
first and talk to the JSON API (with the login session's cookie) for everything live: the SSE
alert stream, acknowledging, saving standards, the compliance JSON and the audit check.

Static files are served under ``/assets``, not ``/static``: the Flask app registers its own
``/static/<path>`` rule first, which would shadow the blueprint's.
"""
from flask import Blueprint

pages = Blueprint("pages", __name__, template_folder="templates", static_folder="static",
                  static_url_path="/assets")


from monitor.web import board, cases, layout, login, reports, standards, tablet  # noqa: E402,F401  (registers routes)
