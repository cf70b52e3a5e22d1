"""Protection shared by every form.

CSRF: each form is a Flask-WTF FlaskForm and checks its own token, so a form whose token has
expired comes back with the reader's answers and a clear message rather than a bare error page.
Rate limit: Flask-Limiter counts posts per address (in memory unless RATELIMIT_STORAGE_URI says
otherwise) and answers 429 past FORM_RATE_LIMIT.
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

limiter = Limiter(key_func=get_remote_address)


def _post_limit() -> str:
    return current_app.config["FORM_RATE_LIMIT"]


def limit_posts(blueprint: Blueprint) -> Blueprint:
    """Apply the post limit to every view of a blueprint."""
    limiter.limit(_post_limit, methods=["POST"])(blueprint)
    return blueprint


def init_app(app: Flask) -> None:
    limiter.init_app(app)
