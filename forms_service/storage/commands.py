"""`flask --app forms_service db ...`: make or upgrade the PostgreSQL schema, and move an instance
folder's TinyDB records into PostgreSQL."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from .interface import StorageUnavailable

db = AppGroup("db", help="The PostgreSQL database (FORMS_DATABASE_URL): schema and imports.")

# The flask command line's own options that take a value (skipped when finding the command).
_FLASK_OPTIONS_WITH_VALUE = {"--app", "-A", "--env-file", "-e"}
_KIND_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyz_")


def running_db_command() -> bool:
    """True while the flask command line runs `db ...`: the command that makes the schema must be
    able to load an app whose database has none yet."""
    if os.environ.get("FLASK_RUN_FROM_CLI") != "true":
        return False
    args = iter(sys.argv[1:])
    for arg in args:
        if arg in _FLASK_OPTIONS_WITH_VALUE:
            next(args, None)
        elif not arg.startswith("-"):
            return arg == "db"
    return False


def _database_url() -> str:
    url = current_app.config.get("DATABASE_URL") or ""
    if not url:
        raise click.UsageError("FORMS_DATABASE_URL is not set: set it to the PostgreSQL database "
                               "(postgresql://user:password@host/database)")
    return url


@db.command("upgrade")
def upgrade():
    """Make the schema, or bring it up to this version of the service. Safe to run again, and
    from several machines at once."""
    from .postgres import upgrade as run_upgrade
    from .postgres import where_is

    url = _database_url()
    try:
        before, after = run_upgrade(url)
    except StorageUnavailable as error:
        click.echo(f"Cannot upgrade {where_is(url)}: {error}", err=True)
        sys.exit(1)
    if before == after:
        click.echo(f"Schema of {where_is(url)} already at version {after}: nothing to do")
    else:
        click.echo(f"Schema of {where_is(url)} upgraded from version {before} to {after}")


@db.command("import-tinydb")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
def import_tinydb(path: Path):
    """Copy the records of the instance folder PATH (every kind: submissions, outbox, state) into
    PostgreSQL, as they are. Records already there are left alone, so it can run again."""
    from .tinydb import TinyDBStore

    _database_url()
    target = current_app.extensions["store"]
    data = path / "data"
    if not data.is_dir():
        raise click.BadParameter(f"{path} has no data/ folder: give the instance folder the service used",
                                 param_hint="PATH")
    source = TinyDBStore(data)
    kinds = sorted(p.name for p in data.iterdir() if p.is_dir() and set(p.name) <= _KIND_LETTERS)
    total_new = total_there = 0
    try:
        for kind in kinds:
            records = source.list(kind)
            new = target.import_records(records)
            total_new += new
            total_there += len(records) - new
            click.echo(f"{kind}: {len(records)} record(s), {new} new, {len(records) - new} already there")
    except StorageUnavailable as error:
        click.echo(f"Import stopped: {error}. Run the command again: what was copied stays, nothing is doubled.",
                   err=True)
        sys.exit(1)
    for problem in source.problems():
        click.echo(f"Not imported: {problem}", err=True)
    click.echo(f"Imported {total_new} new record(s); {total_there} already there")
