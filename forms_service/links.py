"""Signed links: a record id and a purpose, signed with the secret key, optionally time-limited.

A link cannot be forged or altered without the key; one made for one purpose (confirming an
agreement, say) does not work for another (printing it).
"""

from __future__ import annotations

from flask import current_app, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from . import i18n


class LinkError(Exception):
    """The link cannot be used."""


class LinkInvalid(LinkError):
    """Altered, cut short, or made for something else."""


class LinkExpired(LinkError):
    """Genuine, but too old."""


def external_url(endpoint: str, language: str, **values) -> str:
    """An absolute link to a view, on the service's public address, in ``language``."""
    return current_app.config["PUBLIC_URL"].rstrip("/") + url_for(endpoint, lang=i18n.url_lang(language), **values)


def page_url(language: str, page: str) -> str:
    """An absolute link to a handbook page (``page`` as in the site, e.g. ``evaluation/``)."""
    return current_app.config["PUBLIC_URL"].rstrip("/") + i18n.prefix(language) + page


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"forms-service/{purpose}")


def sign(purpose: str, value: str) -> str:
    return _serializer(purpose).dumps(value)


def unsign(purpose: str, token: str, max_age: int | None = None) -> str:
    """The value inside a token, or LinkInvalid / LinkExpired."""
    try:
        value = _serializer(purpose).loads(token, max_age=max_age)
    except SignatureExpired:
        raise LinkExpired(purpose) from None
    except BadSignature:
        raise LinkInvalid(purpose) from None
    if not isinstance(value, str):
        raise LinkInvalid(purpose)
    return value
