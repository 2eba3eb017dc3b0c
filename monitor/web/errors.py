"""The pages' error pages: an HTTP error a person meets in a browser, in the page's language.

The API's errors stay JSON (``monitor.errors``); werkzeug's own HTML says "Not Found … If you
entered the URL manually" in English only, so a page request gets ``error.html`` instead.
"""
from __future__ import annotations

from flask import render_template
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

#: status → (title, what to do); a status not listed says its number and the generic advice
WORDS = {
    400: (_l("Bad request"), _l("The monitor could not read this request. Go back and try again.")),
    403: (_l("Not allowed"), _l("Your sign-in does not give access to this page.")),
    404: (_l("Page not found"), _l("There is no page at this address. Check the address, or go back to the board.")),
    405: (_l("Not allowed here"), _l("This address does not take this kind of request.")),
    413: (_l("Too large"), _l("What was sent is larger than the monitor accepts.")),
    500: (_l("Something went wrong"), _l("The monitor hit an unexpected error; it was logged. Try again in a moment.")),
}
GENERIC = (_l("The request could not be served (%(status)s)."), _l("Go back and try again."))


def error_page(status: int):
    """``error.html`` for ``status``, answered with that status."""
    title, advice = WORDS.get(status, GENERIC)
    return render_template("pages/error.html", status=status, title=title % {"status": status},
                           message=advice), status


def http_error_page(exc: HTTPException):
    # keep what the exception carries for the client (Allow of a 405, Retry-After …)
    body, status = error_page(exc.code or 500)
    response = exc.get_response()
    response.set_data(body)
    response.mimetype = "text/html"
    return response
