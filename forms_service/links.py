"""Signed links: a record id and a purpose, signed with the secret key, optionally time-limited.

A link cannot be forged or altered without the key; one made for one purpose (confirming an
agreement, say) does not work for another (printing it).
"""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer


class LinkError(Exception):
    """The link cannot be used."""


class LinkInvalid(LinkError):
    """Altered, cut short, or made for something else."""


class LinkExpired(LinkError):
    """Genuine, but too old."""


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
