"""Settings: defaults, then the environment (FORMS_*), then a test's overrides; checked at start-up.

Secrets come from the environment only. Programmes and contact persons come from
``programmes.toml`` in the instance folder (see programmes.py). Anything missing or wrong stops
start-up with a message that says what to set and how.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask

from . import programmes

PROJECT_ROOT = Path(__file__).resolve().parent.parent

DEFAULTS = {
    # The handbook as MkDocs built it.
    "SITE_DIR": str(PROJECT_ROOT / "site"),
    "LANGUAGES": ("nb", "en", "da"),
    "DEFAULT_LANGUAGE": "nb",
    # A form is a few KB; anything above this is refused with 413 before it is read.
    "MAX_CONTENT_LENGTH": 64 * 1024,
    # A mentor may keep a form open through a long shift before sending it.
    "WTF_CSRF_TIME_LIMIT": 12 * 3600,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # The service's pages are gzipped like the built site's files.
    "COMPRESS_ALGORITHM": "gzip",
    # Posts from one address to each form (Flask-Limiter syntax), and to the whole service (every
    # post, and the confirmation and acknowledgement links; empty: the same figure). Counted in
    # memory, by each worker alone, unless RATELIMIT_STORAGE_URI names a shared store (redis://).
    "FORM_RATE_LIMIT": "20 per minute; 200 per hour",
    "SERVICE_RATE_LIMIT": "",
    "RATELIMIT_STORAGE_URI": "memory://",
    # How long the other party has to confirm an agreement.
    "AGREEMENT_CONFIRM_DAYS": 14,
    # PostgreSQL (postgresql://...) instead of the embedded TinyDB files in the instance folder.
    "DATABASE_URL": "",
    # The address people reach the service at: links in emails start with it.
    "PUBLIC_URL": "http://127.0.0.1:8000",
    # Email. Without SMTP_HOST, mail is written as .eml files to <instance>/mail/.
    "SMTP_HOST": "",
    "SMTP_PORT": 587,
    "SMTP_SECURITY": "starttls",
    "SMTP_USERNAME": "",
    "SMTP_PASSWORD": "",
    "SMTP_TIMEOUT": 30,
    "MAIL_FROM": "Mentorhåndboka <handbook@example.org>",
    # Told when an email cannot be delivered.
    "ADMIN_EMAIL": "",
    # How many reverse proxies stand in front of the service (their X-Forwarded-* headers are
    # trusted for the client's address and the scheme); 0 when it faces the network itself.
    "PROXY_COUNT": 0,
}

# Values that must never reach production as a secret key.
KNOWN_WEAK_KEYS = {"", "dev", "development", "secret", "change-me", "changeme", "test"}
DEV_KEY_FILE = ".dev-secret-key"


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message says which and how to fix it."""


def instance_path(test_config: dict | None) -> str:
    """Where data and config live: FORMS_INSTANCE_PATH, else ./instance beside the project."""
    if test_config and test_config.get("INSTANCE_PATH"):
        return str(Path(test_config["INSTANCE_PATH"]).resolve())
    return str(Path(os.environ.get("FORMS_INSTANCE_PATH") or PROJECT_ROOT / "instance").resolve())


def load(app: Flask, test_config: dict | None) -> None:
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("FORMS")
    if test_config:
        app.config.from_mapping(test_config)
    instance = Path(app.instance_path)
    try:
        # The instance folder holds concern reports: readable by the service's user alone.
        instance.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"Cannot create the instance folder {instance}: {error.strerror}") from None

    _check_secret_key(app, instance)
    _check_site(app)
    _check_mail(app)
    _load_programmes(app, instance)
    app.config["BABEL_DEFAULT_TIMEZONE"] = app.extensions["programmes"].time_zone.key


def _check_secret_key(app: Flask, instance: Path) -> None:
    key = app.config.get("SECRET_KEY") or ""
    if isinstance(key, str) and key.strip().lower() not in KNOWN_WEAK_KEYS and len(key) >= 32:
        return
    if app.debug or app.testing:
        # Development only: a random key kept in the instance folder, so sessions survive restarts.
        path = instance / DEV_KEY_FILE
        if not path.exists():
            path.write_text(secrets.token_hex(32), encoding="utf-8")
            path.chmod(0o600)
        app.config["SECRET_KEY"] = path.read_text(encoding="utf-8").strip()
        return
    problem = "is not set" if not key else "is too weak (a known default, or shorter than 32 characters)"
    raise ConfigError(
        f"FORMS_SECRET_KEY {problem}. Generate one with\n"
        "    python3 -c 'import secrets; print(secrets.token_hex(32))'\n"
        "and set it in the service's environment (FORMS_DEBUG=1 allows a development key)."
    )


def _check_site(app: Flask) -> None:
    site_dir = Path(app.config["SITE_DIR"])
    if not (site_dir / "index.html").is_file():
        raise ConfigError(
            f"The built handbook is missing: no index.html in {site_dir}. "
            "Build it with `make site` (or set FORMS_SITE_DIR to a built site)."
        )


def _check_mail(app: Flask) -> None:
    from email.headerregistry import Address
    from email.utils import parseaddr

    from email_validator import EmailNotValidError, validate_email

    # from_prefixed_env reads "12345" as a number; user names and passwords are text.
    for key in ("SMTP_USERNAME", "SMTP_PASSWORD", "SMTP_HOST"):
        app.config[key] = "" if app.config[key] is None else str(app.config[key])
    for key in ("MAIL_FROM", "ADMIN_EMAIL"):
        value = app.config[key]
        if not value and key == "ADMIN_EMAIL":
            continue
        name, address = parseaddr(str(value))
        try:
            validate_email(address, check_deliverability=False)
        except EmailNotValidError as error:
            raise ConfigError(f"FORMS_{key} {value!r} is not a valid email address: {error}") from None
        app.config[key] = str(Address(display_name=name, addr_spec=address)) if name else address
    security = app.config["SMTP_SECURITY"]
    if security not in ("none", "starttls", "ssl"):
        raise ConfigError(f"FORMS_SMTP_SECURITY must be none, starttls or ssl, not {security!r}")
    try:
        port = int(app.config["SMTP_PORT"])
    except (TypeError, ValueError):
        port = 0
    if not 0 < port < 65536:
        raise ConfigError(f"FORMS_SMTP_PORT must be a port number, not {app.config['SMTP_PORT']!r}")
    if app.config["SMTP_HOST"] and app.config["SMTP_USERNAME"] and security == "none" and not app.testing:
        raise ConfigError("FORMS_SMTP_USERNAME is set with FORMS_SMTP_SECURITY=none: "
                          "the password would cross the network in clear text; use starttls or ssl")


def _load_programmes(app: Flask, instance: Path) -> None:
    path = instance / programmes.FILE_NAME
    if app.debug or app.testing:
        programmes.ensure_sample(instance)
    try:
        app.extensions["programmes"] = programmes.load(path)
    except programmes.ProgrammeConfigError as error:
        hint = "" if path.exists() else " (run once with FORMS_DEBUG=1 to write an example)"
        raise ConfigError(f"{error}{hint}") from None
    if app.extensions["programmes"].organisation is None and not (app.debug or app.testing):
        raise ConfigError(
            f"{path}: no [organisation] table. The privacy notice must name who is responsible for "
            "the data: add [organisation] with name and email (address and phone are optional); "
            "the example written with FORMS_DEBUG=1 shows how."
        )
