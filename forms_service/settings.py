"""Settings: defaults, then the environment (FORMS_*), then a test's overrides."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

PROJECT_ROOT = Path(__file__).resolve().parent.parent

DEFAULTS = {
    # The handbook as MkDocs built it.
    "SITE_DIR": str(PROJECT_ROOT / "site"),
    "LANGUAGES": ("nb", "en", "da"),
    "DEFAULT_LANGUAGE": "nb",
}


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message says which and how to fix it."""


def load(app: Flask, test_config: dict | None) -> None:
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("FORMS")
    if test_config:
        app.config.from_mapping(test_config)
    site_dir = Path(app.config["SITE_DIR"])
    if not (site_dir / "index.html").is_file():
        raise ConfigError(
            f"The built handbook is missing: no index.html in {site_dir}. "
            "Build it with `make site` (or set FORMS_SITE_DIR to a built site)."
        )
