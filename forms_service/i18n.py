"""Languages: the URL decides (``/`` Norwegian Bokmål, ``/en/`` English, ``/da/`` Danish).

Flask-Babel translates the service's strings from the catalogs in ``translations/``; Flask-WTF
hands WTForms' own messages the same locale. Views are registered with ``localized_route`` so
that one view answers at the same path in every language.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app, g, request
from flask_babel import Babel
from werkzeug.routing import BaseConverter

TRANSLATIONS = Path(__file__).resolve().parent / "translations"


def _language_converter(languages: list[str]) -> type[BaseConverter]:
    class LanguageConverter(BaseConverter):
        """Matches the URL prefix of a language other than the default one."""

        regex = "|".join(languages)

    return LanguageConverter


def localized_route(blueprint, rule: str, **options):
    """Register a view at ``rule`` for the default language and at ``/<lang>rule`` for the others."""

    def decorator(view):
        blueprint.add_url_rule(rule, view_func=view, defaults={"lang": None}, **options)
        blueprint.add_url_rule("/<lang:lang>" + rule, view_func=view, **options)
        return view

    return decorator


def language_of_path(path: str) -> str:
    first = path.lstrip("/").split("/", 1)[0]
    if first in current_app.config["LANGUAGES"]:
        return first
    return current_app.config["DEFAULT_LANGUAGE"]


def current_language() -> str:
    """The language of this request: the view's, else the URL's."""
    language = g.get("lang")
    if language:
        return language
    return language_of_path(request.path) if request else current_app.config["DEFAULT_LANGUAGE"]


def url_lang(language: str) -> str | None:
    """The value of a view's ``lang`` argument for a language: None for the default one."""
    return None if language == current_app.config["DEFAULT_LANGUAGE"] else language


def prefix(language: str) -> str:
    """The URL prefix of a language: '/' for the default, '/en/' and so on for the others."""
    return "/" if language == current_app.config["DEFAULT_LANGUAGE"] else f"/{language}/"


def init_app(app: Flask) -> None:
    missing = [lang for lang in app.config["LANGUAGES"]
               if not (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo").is_file()]
    if missing:
        from .settings import ConfigError

        raise ConfigError(
            f"Compiled translations are missing for {', '.join(missing)} in {TRANSLATIONS}. "
            "Compile them with `make translations`."
        )
    others = [lang for lang in app.config["LANGUAGES"] if lang != app.config["DEFAULT_LANGUAGE"]]
    app.url_map.converters["lang"] = _language_converter(others)
    Babel(app, locale_selector=current_language, default_translation_directories=str(TRANSLATIONS))

    @app.url_value_preprocessor
    def pull_language(endpoint, values):
        if values and "lang" in values:
            g.lang = values.pop("lang") or app.config["DEFAULT_LANGUAGE"]

    @app.url_defaults
    def add_language(endpoint, values):
        if "lang" in values or not app.url_map.is_endpoint_expecting(endpoint, "lang"):
            return
        values["lang"] = url_lang(g.get("lang") or app.config["DEFAULT_LANGUAGE"])

    @app.context_processor
    def language_context():
        return {"lang": current_language(), "lang_prefix": prefix(current_language())}
