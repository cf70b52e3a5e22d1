"""The forms service: serves the built handbook and handles its forms."""

from __future__ import annotations

from flask import Flask

from . import (
    agreement,
    cli,
    concern,
    errors,
    feedback,
    health,
    i18n,
    pages,
    pgp,
    privacy,
    security,
    settings,
    storage,
)


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: settings first, then each part of the service, then the form areas."""
    app = Flask(__name__, instance_path=settings.instance_path(test_config))
    settings.load(app, test_config)
    storage.init_app(app)
    pgp.init_app(app)
    i18n.init_app(app)
    security.init_app(app)
    pages.init_app(app)
    errors.init_app(app)
    for area in (agreement, concern, feedback):
        app.register_blueprint(security.limit_posts(area.bp))
    app.register_blueprint(health.bp)
    app.register_blueprint(privacy.bp)
    cli.init_app(app)
    security.wrap_wsgi(app)
    return app
