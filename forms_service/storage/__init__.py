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
           "StorageUnavailable", "key_id", "utcnow", "init_app", "store", "open_store"]


def open_store(app: Flask) -> Store:
    """The backend the app's configuration names."""
    url = app.config.get("DATABASE_URL") or ""
    if url:
        from .postgres import PostgresStore

        return PostgresStore(url)
    from .tinydb import TinyDBStore

    return TinyDBStore(Path(app.instance_path) / "data")


def init_app(app: Flask) -> None:
    app.extensions["store"] = open_store(app)


def store() -> Store:
    """The store of the running app."""
    return current_app.extensions["store"]
