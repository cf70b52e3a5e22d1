"""Storage: the interface the app uses (interface.py) and the backend configuration chooses.

With nothing configured, the embedded TinyDB backend keeps the data in the instance folder's
``data/``. FORMS_DATABASE_URL=postgresql://... selects the PostgreSQL backend. The rest of the
service calls ``store()`` and never knows which one runs.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app

from .interface import (
    UNCHANGED,
    ClaimLost,
    Record,
    RecordNotFound,
    StatusConflict,
    Store,
    StorageUnavailable,
    key_id,
    utcnow,
)

__all__ = ["UNCHANGED", "ClaimLost", "Record", "RecordNotFound", "StatusConflict", "Store",
           "StorageUnavailable", "key_id", "utcnow", "init_app", "store", "open_store", "describe"]

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def open_store(app: Flask) -> Store:
    """The backend the app's configuration names."""
    url = str(app.config.get("DATABASE_URL") or "")
    if url:
        if not url.startswith(POSTGRES_SCHEMES):
            from ..settings import ConfigError

            raise ConfigError("FORMS_DATABASE_URL must be a PostgreSQL URL (postgresql://user:password@host/"
                              "database); leave it empty to keep the data in the instance folder")
        from .postgres import PostgresStore

        return PostgresStore(url)
    from .tinydb import TinyDBStore

    return TinyDBStore(Path(app.instance_path) / "data")


def init_app(app: Flask) -> None:
    from . import commands

    store = app.extensions["store"] = open_store(app)
    app.cli.add_command(commands.db)
    if app.config.get("DATABASE_URL") and not commands.running_db_command():
        from ..settings import ConfigError
        from .postgres import schema_problem

        problem = schema_problem(store.url)
        if problem:
            raise ConfigError(problem)


def describe(store: Store) -> list[str]:
    """Lines for check-config saying where the records are kept; raises StorageUnavailable when the
    store cannot be used (no connection, schema missing or old)."""
    if hasattr(store, "describe"):
        return store.describe()
    return [f"Storage: TinyDB files in {getattr(store, 'root', '?')}"]


def store() -> Store:
    """The store of the running app."""
    return current_app.extensions["store"]
