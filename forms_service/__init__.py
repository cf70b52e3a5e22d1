"""The forms service: serves the built handbook and handles its forms."""

from __future__ import annotations

from flask import Flask

from . import settings, site


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: settings first, then each part of the service."""
    app = Flask(__name__, instance_relative_config=True)
    settings.load(app, test_config)
    site.init_app(app)
    return app
