"""Protection shared by every page and form.

Headers: every response, static file or service page, gets a Content-Security-Policy without
'unsafe-inline' for scripts (the few inline scripts Material writes into a page are allowed by
their SHA-256 hashes, computed from that very page), nosniff, a referrer policy, no framing, and
HSTS when the request came over HTTPS.

CSRF: each form is a Flask-WTF FlaskForm and checks its own token, so a form whose token has
expired comes back with the reader's answers and a clear message rather than a bare error page.

Compression: Flask-Compress gzips the service's own pages (WhiteNoise serves the built files
pre-compressed).

Bodies: a POST carries a form (urlencoded or multipart) or nothing; any other body, JSON above
all, is refused with 415 before a view or a form sees it.

Rate limits: Flask-Limiter counts, per client address, each form's posts (FORM_RATE_LIMIT) and,
shared across the whole service, every post and every opening of a confirmation or
acknowledgement link (SERVICE_RATE_LIMIT); past either it answers 429. The counts live in
RATELIMIT_STORAGE_URI: in memory by default, where each worker process counts alone, so with
several workers point it at Redis (``redis://host:6379/0``).
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import re

from flask import Blueprint, Flask, abort, current_app, request
from flask_compress import Compress
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.middleware.proxy_fix import ProxyFix

log = logging.getLogger(__name__)

FORM_BODIES = ("application/x-www-form-urlencoded", "multipart/form-data")
# Views whose GET counts against the service-wide limit too: they look up a record by a link.
COUNTED_PAGES = {"agreement.confirm", "concern.acknowledge"}


def _service_limit() -> str:
    return current_app.config.get("SERVICE_RATE_LIMIT") or current_app.config["FORM_RATE_LIMIT"]


def _not_counted() -> bool:
    """The service-wide limit counts posts and the pages in COUNTED_PAGES; not handbook pages."""
    return request.method != "POST" and request.endpoint not in COUNTED_PAGES


limiter = Limiter(key_func=get_remote_address, application_limits=[_service_limit],
                  application_limits_exempt_when=_not_counted)

# Executable inline scripts: no src, and no type, or a JavaScript type.
_INLINE_SCRIPT = re.compile(
    r"<script(?![^>]*\bsrc=)(?![^>]*\btype=\"(?!text/javascript|module)[^\"]*\")[^>]*>(.*?)</script>", re.S
)
_POLICY = (
    "default-src 'self'; script-src 'self'{hashes}; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
HSTS = "max-age=63072000; includeSubDomains"


def script_hashes(html: str) -> list[str]:
    """CSP sources for the inline scripts of a page, by the SHA-256 hash of each."""
    found = []
    for body in _INLINE_SCRIPT.findall(html):
        digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode("ascii")
        source = f"'sha256-{digest}'"
        if source not in found:
            found.append(source)
    return found


def content_security_policy(html: str | None = None) -> str:
    hashes = "".join(f" {h}" for h in script_hashes(html)) if html else ""
    return _POLICY.format(hashes=hashes)


def common_headers(headers, *, secure: bool) -> None:
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"
    headers["X-Frame-Options"] = "DENY"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), interest-cohort=()"
    if secure:
        headers["Strict-Transport-Security"] = HSTS


def static_file_headers(headers, path: str, url: str) -> None:
    """WhiteNoise's hook: the headers of a built file, computed once when the service starts.
    Pages get their policy; scripts, styles and images need none of their own (a policy only
    acts on a document or a worker, and the search worker loads nothing but its own scripts).
    HSTS is added per request (it depends on the scheme) by ``_HSTSForStatic``."""
    common_headers(headers, secure=False)
    if path.endswith(".html"):
        with open(path, encoding="utf-8") as page:
            headers["Content-Security-Policy"] = content_security_policy(page.read())


class _HSTSForStatic:
    """Adds HSTS to responses (static files included) that went out over HTTPS."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        secure = environ.get("wsgi.url_scheme") == "https"

        def start(status, headers, exc_info=None):
            if secure and not any(name.lower() == "strict-transport-security" for name, _ in headers):
                headers.append(("Strict-Transport-Security", HSTS))
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


def shared_store(app: Flask) -> bool:
    """Whether the rate limits are counted in a store all worker processes share."""
    return not str(app.config.get("RATELIMIT_STORAGE_URI") or "memory://").startswith("memory://")


def per_worker_warning(app: Flask) -> str | None:
    """What to tell an operator whose limits are counted by each worker alone; None if shared."""
    if shared_store(app):
        return None
    return ("rate limits are counted in memory, by each worker process alone: with N gunicorn workers one "
            f"address can send N times SERVICE_RATE_LIMIT ({_limit_text(app)}). Set "
            "FORMS_RATELIMIT_STORAGE_URI=redis://HOST:6379/0 to share them.")


def _limit_text(app: Flask) -> str:
    return app.config.get("SERVICE_RATE_LIMIT") or app.config["FORM_RATE_LIMIT"]


def _only_form_bodies():
    """415 for a request body that is not a form: JSON, XML, text. An empty body passes."""
    if request.method in ("GET", "HEAD", "OPTIONS") or request.routing_exception is not None:
        return None
    if request.mimetype in FORM_BODIES:
        return None
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if not request.mimetype and not request.content_length and not chunked:
        return None
    abort(415)


def _post_limit() -> str:
    return current_app.config["FORM_RATE_LIMIT"]


def limit_posts(blueprint: Blueprint) -> Blueprint:
    """Apply the post limit to every view of a blueprint."""
    limiter.limit(_post_limit, methods=["POST"])(blueprint)
    return blueprint


def init_app(app: Flask) -> None:
    # Registered before the header hook below, so that it runs after it (Flask runs after_request
    # hooks in reverse): the hook reads the page's inline scripts before the page is compressed.
    Compress(app)
    # Without the store (Redis down), count in memory for a while rather than refuse every form.
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    limiter.init_app(app)
    app.before_request(_refuse_marked_bodies)
    app.before_request(_only_form_bodies)
    warning = per_worker_warning(app)
    if warning and not (app.debug or app.testing):
        log.warning("Note: %s", warning)
    if app.config.get("PUBLIC_URL", "").startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True

    @app.after_request
    def headers(response):
        common_headers(response.headers, secure=request.is_secure)
        if response.mimetype == "text/html" and not response.direct_passthrough:
            response.headers["Content-Security-Policy"] = content_security_policy(response.get_data(as_text=True))
        elif response.is_json:
            response.headers["Content-Security-Policy"] = content_security_policy()
        return response


class _BoundedChunkedBody:
    """Reads a chunked request body (one without Content-Length) before the app does, up to
    MAX_CONTENT_LENGTH: werkzeug would otherwise stop reading at the limit and hand the form a
    silently cut-off body. A body over the limit is replaced by an empty one and marked, and the
    app answers 413 (``_refuse_marked_bodies``). What lies beyond is drained up to DRAIN bytes so
    that the client can read the answer rather than meet a reset connection."""

    DRAIN = 1024 * 1024
    TOO_LARGE = "forms_service.body_too_large"

    def __init__(self, app, limit: int):
        self.app = app
        self.limit = limit

    def __call__(self, environ, start_response):
        # Only when the server ends the stream at the last chunk (gunicorn, werkzeug): read raw,
        # it could block; werkzeug then reads nothing anyway.
        if environ.get("CONTENT_LENGTH") in (None, "") and environ.get("wsgi.input_terminated") and \
                "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            stream = environ["wsgi.input"]
            body = _read_up_to(stream, self.limit + 1)
            if len(body) > self.limit:
                environ[self.TOO_LARGE] = True
                _read_up_to(stream, self.DRAIN)
                body = b""
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.app(environ, start_response)


def _read_up_to(stream, size: int) -> bytes:
    chunks, left = [], size
    while left > 0:
        chunk = stream.read(min(left, 65536))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _refuse_marked_bodies():
    if request.environ.get(_BoundedChunkedBody.TOO_LARGE):
        abort(413)


def wrap_wsgi(app: Flask) -> None:
    """The outermost layers: HSTS for every HTTPS response, the proxy's word on scheme and client,
    and chunked bodies held to the size limit."""
    app.wsgi_app = _BoundedChunkedBody(app.wsgi_app, int(app.config["MAX_CONTENT_LENGTH"]))
    app.wsgi_app = _HSTSForStatic(app.wsgi_app)
    proxies = int(app.config.get("PROXY_COUNT") or 0)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
