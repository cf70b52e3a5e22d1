"""The built handbook: served as static files, and the page every service page is shown in.

A form page is the handbook page MkDocs built at that URL, with the form put in place of the
``<!-- form-slot:NAME -->`` block. The privacy notice is served the same way, with the
deployment's organisation and retention periods in its ``<!-- privacy-... -->`` blocks.
Receipts, confirmations and error pages use the language's 404 page as their frame, with their
own text between ``<!-- page-content -->`` markers. Either way the reader sees the handbook's
header, navigation, language switcher and search.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from flask import Flask, current_app
from whitenoise import WhiteNoise

from . import i18n, security
from .settings import ConfigError

# Material's bundles carry a content hash in their names: cache them for good.
_HASHED = re.compile(r"\.[0-9a-f]{8}\.min\.(js|css)$")
# Everything else that is not HTML may be kept for an hour, then revalidated.
STATIC_MAX_AGE = 3600
FORM_PAGES = ("agreement", "concern", "feedback")
_TITLE = re.compile(r"<title>.*?</title>", re.S)
_CONTENT = re.compile(r"<!-- page-content -->.*?<!-- /page-content -->", re.S)


_SLOTS = {name: re.compile(rf"<!-- form-slot:{name} -->.*?<!-- /form-slot -->", re.S) for name in FORM_PAGES}
PRIVACY_PAGE = "privacy/index.html"
PRIVACY_SLOTS = {name: re.compile(rf"<!-- {name} -->.*?<!-- /{name} -->", re.S)
                 for name in ("privacy-controller", "privacy-retention")}


def _file_headers(headers, path: str, url: str) -> None:
    # Pages are revalidated on every visit (a 304 when unchanged); assets are cached (see above).
    # So is each language's service worker (hooks/offline.py): a new build must reach phones at once.
    if path.endswith(".html") or url.endswith("/") or url.endswith("/sw.js"):
        headers["Cache-Control"] = "no-cache"
    security.static_file_headers(headers, path, url)


class Shell:
    """Built pages of the handbook, read once and kept in memory, with content put into them."""

    def __init__(self, site_dir: Path, languages: tuple[str, ...], default: str):
        self.site_dir = site_dir
        self.default = default
        self._pages: dict[str, str] = {}
        for language in languages:
            self.not_found(language)
            for name in FORM_PAGES:
                if not _SLOTS[name].search(self.form_template(language, name)):
                    raise ConfigError(
                        f"{self._path(language, f'forms/{name}/index.html')} has no "
                        f"<!-- form-slot:{name} --> block: rebuild the site with `make site`."
                    )
            for name, slot in PRIVACY_SLOTS.items():
                if not slot.search(self._read(language, PRIVACY_PAGE)):
                    raise ConfigError(
                        f"{self._path(language, PRIVACY_PAGE)} has no <!-- {name} --> block: "
                        "rebuild the site with `make site`."
                    )

    def _path(self, language: str, relative: str) -> Path:
        folder = self.site_dir if language == self.default else self.site_dir / language
        return folder / relative

    def _read(self, language: str, relative: str) -> str:
        key = f"{language}/{relative}"
        if key not in self._pages:
            self._pages[key] = self._path(language, relative).read_text(encoding="utf-8")
        return self._pages[key]

    def form_template(self, language: str, name: str) -> str:
        return self._read(language, f"forms/{name}/index.html")

    def not_found(self, language: str) -> str:
        return self._read(language, "404.html")

    def form_page(self, language: str, name: str, content: str) -> str:
        """The built page of form ``name`` with ``content`` in place of its form slot."""
        return _SLOTS[name].sub(lambda _: str(content), self.form_template(language, name), count=1)

    def privacy_page(self, language: str, slots: dict[str, str]) -> str:
        """The built privacy notice with each named slot's fallback text replaced by its content."""
        page = self._read(language, PRIVACY_PAGE)
        for name, content in slots.items():
            page = PRIVACY_SLOTS[name].sub(lambda _: f"<!-- {name} -->{content}<!-- /{name} -->", page, count=1)
        return page

    def message_page(self, language: str, title: str, content: str) -> str:
        """A page in the handbook's frame with its own title and content."""
        page = self.not_found(language)
        page = _TITLE.sub(lambda m: self._title(m.group(0), title), page, count=1)
        return _CONTENT.sub(lambda _: str(content), page, count=1)

    @staticmethod
    def _title(old: str, title: str) -> str:
        site_name = old.rsplit(" - ", 1)[-1].removesuffix("</title>")
        return f"<title>{html.escape(title)} - {site_name}</title>"


def shell() -> Shell:
    return current_app.extensions["shell"]


def init_app(app: Flask) -> None:
    site_dir = Path(app.config["SITE_DIR"])
    app.extensions["shell"] = Shell(site_dir, app.config["LANGUAGES"], app.config["DEFAULT_LANGUAGE"])
    static = WhiteNoise(
        app.wsgi_app,
        root=str(site_dir),
        index_file=True,
        max_age=STATIC_MAX_AGE,
        immutable_file_test=lambda path, url: bool(_HASHED.search(url)),
        add_headers_function=_file_headers,
    )
    # The form pages and the privacy notice are the service's to answer, not the static files'.
    for language in app.config["LANGUAGES"]:
        with app.app_context():
            prefix = i18n.prefix(language)
        for folder in (*(f"forms/{name}/" for name in FORM_PAGES), "privacy/"):
            static.files.pop(f"{prefix}{folder}", None)
            static.files.pop(f"{prefix}{folder}index.html", None)
    app.wsgi_app = static
