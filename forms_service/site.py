"""The built handbook: served as static files, and used as the page shell for the service's pages."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask, Response, request
from whitenoise import WhiteNoise

# Material's bundles and our build carry a content hash in their names: cache them for good.
_HASHED = re.compile(r"\.[0-9a-f]{8}\.min\.(js|css)$")
# Everything else that is not HTML may be kept for an hour, then revalidated.
STATIC_MAX_AGE = 3600


def _cache_headers(headers, path: str, url: str) -> None:
    if path.endswith(".html") or url.endswith("/"):
        headers["Cache-Control"] = "no-cache"


def language_of(path: str, app: Flask) -> str:
    """The handbook language a URL path belongs to: its first segment, or the default."""
    first = path.lstrip("/").split("/", 1)[0]
    if first in app.config["LANGUAGES"]:
        return first
    return app.config["DEFAULT_LANGUAGE"]


def not_found_page(app: Flask, language: str) -> str:
    site_dir = Path(app.config["SITE_DIR"])
    if language == app.config["DEFAULT_LANGUAGE"]:
        return (site_dir / "404.html").read_text(encoding="utf-8")
    return (site_dir / language / "404.html").read_text(encoding="utf-8")


def init_app(app: Flask) -> None:
    app.wsgi_app = WhiteNoise(
        app.wsgi_app,
        root=app.config["SITE_DIR"],
        index_file=True,
        max_age=STATIC_MAX_AGE,
        immutable_file_test=lambda path, url: bool(_HASHED.search(url)),
        add_headers_function=_cache_headers,
    )

    @app.errorhandler(404)
    def page_not_found(error):
        html = not_found_page(app, language_of(request.path, app))
        return Response(html, status=404, mimetype="text/html")
