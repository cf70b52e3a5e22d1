"""Error pages in the reader's language and the handbook's frame; no form content in logs.

Every error the service can meet gets its own page with a 4xx or 5xx status: an unknown page
(404), a wrong method (405, with the methods it allows), a body over the size limit (413), a
body that is not a form (415), too many posts (429), storage
that cannot be written (503) and anything unexpected (500).
"""

from __future__ import annotations

import logging
import traceback

from flask import Flask, request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from .formkit import render_message
from .storage import StorageUnavailable

log = logging.getLogger(__name__)

PAGES = {
    400: (_l("The request could not be read"),
          _l("Something in what your browser sent was not right. Go back, reload the page and try again.")),
    403: (_l("This is not allowed"),
          _l("The request came from outside the handbook. Open the page in the handbook and try again.")),
    404: (_l("Page not found"),
          _l("The page you were looking for does not exist. The address may be mistyped, or the page may "
             "have moved.")),
    405: (_l("This page cannot do that"),
          _l("The page exists, but not for this kind of request. Open it from the handbook's menu.")),
    413: (_l("What you sent is too large"),
          _l("A form can hold at most 64 KB. Go back, shorten the longest answers and send it again: "
             "your answers are still in the form.")),
    415: (_l("This is not a form the handbook can read"),
          _l("The handbook's forms take only what a web browser sends from their pages. Open the form in the "
             "handbook and send it from there.")),
    429: (_l("Too many forms from this address"),
          _l("To stop misuse, a limited number of forms can be sent from one address in a short time. Wait "
             "a minute and send it again: go back and your answers are still in the form.")),
    500: (_l("Something went wrong on our side"),
          _l("The service ran into an error. Go back and try again in a moment; if it happens again, "
             "contact your programme's coordinator.")),
    503: (_l("The service cannot save right now"),
          _l("Nothing was saved. Go back and send the form again in a few minutes: your answers are still "
             "in the form. If someone is in danger, call 112 (police) or 113 (medical emergency) in Norway, "
             "or 112 in Denmark.")),
}


def error_page(status: int, headers: dict | None = None):
    title, message = PAGES.get(status, PAGES[500])
    page, status, own = render_message(title, "errors/page.html", status=status, message=message)
    return page, status, {**own, **(headers or {})}


def _log_exception(exc_info) -> None:
    """Log where an error happened, never what it says: messages can carry form input."""
    exc_type, _, tb = exc_info
    frames = "".join(traceback.format_tb(tb))
    log.error("Unhandled %s on %s %s\n%s", exc_type.__name__, request.method, request.path, frames)


def init_app(app: Flask) -> None:
    app.log_exception = _log_exception

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code and error.code < 400:
            return error
        headers = {}
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            headers["Allow"] = ", ".join(error.valid_methods)
        return error_page(error.code or 500, headers)

    @app.errorhandler(StorageUnavailable)
    def storage_unavailable(error):
        log.error("Storage unavailable: %s", error)
        return error_page(503)

    @app.errorhandler(Exception)
    def unexpected(error):
        _log_exception((type(error), error, error.__traceback__))
        return error_page(500)
