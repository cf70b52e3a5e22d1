"""The privacy notice of each language, served with the deployment's own facts put into it: who is
responsible (the ``[organisation]`` of programmes.toml) and how long each programme keeps what is
sent (its ``retention_days``). Without the service, the built page shows its fallback text."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from . import i18n
from .pages import shell

bp = Blueprint("privacy", __name__)


@i18n.localized_route(bp, "/privacy/", endpoint="notice")
def notice():
    programmes = current_app.extensions["programmes"]
    slots = {
        "privacy-retention": render_template(
            "privacy/retention.html",
            programmes=list(programmes),
            page_feedback_days=max((p.retention_days["feedback"] for p in programmes), default=None),
        ),
    }
    if programmes.organisation is not None:
        slots["privacy-controller"] = render_template("privacy/controller.html", organisation=programmes.organisation)
    # Revalidated like the built pages, since it changes only when the programmes file does.
    return shell().privacy_page(i18n.current_language(), slots), 200, {"Cache-Control": "no-cache"}
