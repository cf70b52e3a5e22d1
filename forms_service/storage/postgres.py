"""PostgreSQL backend (FORMS_DATABASE_URL=postgresql://...): one store for app servers on several machines.

One table ``records`` holds every kind: the fields the app filters on (kind, status, programme,
created, due) have columns of their own and indexes, the answers are ``jsonb``. The schema is
made and upgraded by `flask --app forms_service db upgrade` (``upgrade``), versioned in the table
``schema_version``; the app refuses to start on a database whose schema is missing or old.

Connections come from a psycopg_pool pool, opened in the process that uses it (a gunicorn worker
forked after the app was made opens its own). Every method is one transaction unless it runs
inside ``with store.transaction():``, where the store's calls in that thread share one, so that
a status change and the email it calls for are committed together or not at all.

Two things hold a connection of their own, outside the pool: the scheduler's ``leader`` lock, a
session-level advisory lock that the server frees the moment that session ends (the holder died
or lost the network), and the ``wait`` for notifications (LISTEN), woken by ``notify`` (NOTIFY,
delivered when the notifier's transaction commits).
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import logging
import os
import socket
import threading
import time
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from .interface import (
    UNCHANGED,
    ClaimLost,
    Record,
    RecordNotFound,
    StatusConflict,
    StorageUnavailable,
    key_id,
    utcnow,
)

log = logging.getLogger(__name__)

# Each step brings the schema from version n to n + 1. Append new steps; never change old ones.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE records (
        id uuid PRIMARY KEY,
        kind text NOT NULL,
        language text NOT NULL,
        programme text NULL,
        created timestamptz NOT NULL,
        updated timestamptz NOT NULL,
        status text NOT NULL,
        due timestamptz NULL,
        claim text NULL,
        data jsonb NOT NULL DEFAULT '{}'
    );
    CREATE INDEX records_kind_created ON records (kind, created);
    -- Only records with something to do are in it: a minute run reads what is due, nothing else.
    CREATE INDEX records_kind_due ON records (kind, due) WHERE due IS NOT NULL;
    CREATE INDEX records_kind_status ON records (kind, status);
    CREATE INDEX records_kind_programme ON records (kind, programme);
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)
UPGRADE_HINT = "run `flask --app forms_service db upgrade`"

COLUMNS = "id, kind, language, programme, created, updated, status, due, claim, data"
POOL_MIN, POOL_MAX = 1, 10
# How long a request waits for a connection, or for a server to answer a connection attempt.
CONNECT_TIMEOUT_S = 5
POOL_TIMEOUT_S = 5
# A scheduler that loses the network gives up the lead within this time (TCP keepalives and
# tcp_user_timeout on its session), so that it stops before the server frees the lock.
LEADER_KEEPALIVE = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3,
                    "tcp_user_timeout": 30_000}
# Migrations from two machines at once wait for each other on this transaction-level lock.
_MIGRATION_LOCK = int.from_bytes(hashlib.blake2b(b"forms_service schema", digest_size=8).digest(), "big",
                                 signed=True)
_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyz_")
_IMPORT_BATCH = 5_000

# The connection of the transaction the current thread (or task) is in, with its store.
_current: contextvars.ContextVar[tuple[PostgresStore, psycopg.Connection] | None] = \
    contextvars.ContextVar("forms_postgres_transaction", default=None)


def _connect_kwargs() -> dict[str, Any]:
    # Times in UTC, so that records read back equal what was written.
    return {"connect_timeout": CONNECT_TIMEOUT_S, "options": "-c TimeZone=UTC"}


@contextmanager
def _unavailable() -> Iterator[None]:
    """Connection trouble becomes StorageUnavailable (the app's 503 page), without query or content."""
    try:
        yield
    except (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout) as error:
        raise StorageUnavailable(f"database unavailable: {_first_line(error)}") from error
    except psycopg.errors.UndefinedTable as error:
        raise StorageUnavailable(f"database schema missing: {UPGRADE_HINT}") from error


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:300]


def where_is(url: str) -> str:
    """user@host:port/dbname of a database URL, never its password."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "an unreadable FORMS_DATABASE_URL"
    host = info.get("host") or "local socket"
    return f"{info.get('user') or '(default user)'}@{host}:{info.get('port') or 5432}/{info.get('dbname') or ''}"


# -- the schema -------------------------------------------------------------------------------------

def schema_version(conn: psycopg.Connection) -> int:
    """The version the database is at; 0 for an empty database."""
    exists = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()[0]
    if not exists:
        return 0
    return conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]


def upgrade(url: str) -> tuple[int, int]:
    """Bring the schema up to date; returns (version before, version after). Safe to run twice,
    and from two machines at once: the second waits for the first, then finds nothing to do."""
    with _unavailable(), psycopg.connect(url, autocommit=True, **_connect_kwargs()) as conn:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [_MIGRATION_LOCK])
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version ("
                         " version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())")
            before = schema_version(conn)
            if before > SCHEMA_VERSION:
                raise StorageUnavailable(f"the database's schema (version {before}) is newer than this "
                                         f"version of the service knows ({SCHEMA_VERSION}): upgrade the service")
            for version in range(before + 1, SCHEMA_VERSION + 1):
                conn.execute(MIGRATIONS[version - 1])
                conn.execute("INSERT INTO schema_version (version) VALUES (%s)", [version])
                log.info("database schema upgraded to version %d", version)
    return before, SCHEMA_VERSION


def schema_problem(url: str) -> str | None:
    """Why the app cannot use this database (cannot connect, schema missing or old), or None."""
    try:
        with _unavailable(), psycopg.connect(url, autocommit=True, **_connect_kwargs()) as conn:
            version = schema_version(conn)
    except StorageUnavailable as error:
        return f"{where_is(url)}: {error}"
    return _version_problem(url, version)


def _version_problem(url: str, version: int) -> str | None:
    if version < SCHEMA_VERSION:
        state = "has no schema" if version == 0 else f"has schema version {version}, this service needs {SCHEMA_VERSION}"
        return f"The database {where_is(url)} {state}: {UPGRADE_HINT}"
    if version > SCHEMA_VERSION:
        return (f"The database {where_is(url)} has schema version {version}, newer than this version of the "
                f"service knows ({SCHEMA_VERSION}): upgrade the service")
    return None


# -- the store -------------------------------------------------------------------------------------

class PostgresStore:
    """The records in one PostgreSQL database (see the module's docstring)."""

    def __init__(self, url: str, *, pool_size: int = POOL_MAX):
        self.url = url
        self.pool_size = pool_size
        self._pool: ConnectionPool | None = None
        self._pool_pid: int | None = None
        self._pool_lock = threading.Lock()
        self._listener: psycopg.Connection | None = None
        self._listener_pid: int | None = None
        self._listening: set[str] = set()
        self._pending: dict[str, int] = {}
        self._listen_lock = threading.Lock()
        self._leaders: weakref.WeakSet[AdvisoryLeader] = weakref.WeakSet()

    # -- connections -----------------------------------------------------------------------

    def _get_pool(self) -> ConnectionPool:
        # A pool's threads and sockets do not survive a fork: a forked worker opens its own.
        if self._pool is None or self._pool_pid != os.getpid():
            with self._pool_lock:
                if self._pool is None or self._pool_pid != os.getpid():
                    self._pool = ConnectionPool(
                        self.url, min_size=POOL_MIN, max_size=max(self.pool_size, POOL_MIN), open=True,
                        timeout=POOL_TIMEOUT_S, kwargs={"autocommit": True, **_connect_kwargs()},
                        check=ConnectionPool.check_connection, name="forms")
                    self._pool_pid = os.getpid()
        return self._pool

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection]:
        """The connection of this thread's transaction on this store, else one from the pool."""
        current = _current.get()
        if current is not None and current[0] is self:
            yield current[1]
            return
        with self._get_pool().connection() as conn:
            yield conn

    @contextmanager
    def _tx(self, *, atomic: bool = False) -> Iterator[psycopg.Connection]:
        """A connection for one call, with connection errors mapped. Inside ``transaction()`` the
        call is a savepoint (a failed call undoes only itself); outside, a call of one statement
        runs in autocommit, which is its own transaction without a BEGIN and COMMIT round trip,
        and ``atomic`` calls of several statements get a transaction of their own."""
        current = _current.get()
        with _unavailable(), self._conn() as conn:
            if atomic or (current is not None and current[0] is self):
                with conn.transaction():
                    yield conn
            else:
                yield conn

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """The store's calls inside the block, in this thread, are one transaction: committed when
        the block ends, rolled back if it raises. Nested blocks are savepoints."""
        current = _current.get()
        if current is not None and current[0] is self:
            with _unavailable(), current[1].transaction():
                yield
            return
        with _unavailable(), self._get_pool().connection() as conn, conn.transaction():
            token = _current.set((self, conn))
            try:
                yield
            finally:
                _current.reset(token)

    # -- the interface -----------------------------------------------------------------------

    def add(self, kind, *, language, programme, status, data, created=None, due=None, key=None) -> Record:
        now = created or utcnow()
        record = Record(
            id=key_id(kind, key) if key is not None else str(uuid.uuid4()),
            kind=_checked_name(kind), language=_clean(language), programme=_clean(programme),
            created=now, updated=now, status=_clean(status), data=_clean(data), due=due,
        )
        with self._tx() as conn:
            inserted = conn.execute(
                f"INSERT INTO records ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (id) DO NOTHING RETURNING id",
                _row(record)).fetchone()
            if inserted is not None:
                return record
            if key is None:  # pragma: no cover - a uuid4 clash
                raise StorageUnavailable("record id clash")
            existing = conn.execute(f"SELECT {COLUMNS} FROM records WHERE id = %s", [record.id]).fetchone()
        if existing is None or existing[1] != kind:  # pragma: no cover - deleted meanwhile, or a uuid5 clash
            raise StorageUnavailable("record id clash")
        return _record(existing)

    def get(self, kind, record_id) -> Record:
        if not _is_uuid(record_id):
            raise RecordNotFound(record_id)
        with self._tx() as conn:
            row = conn.execute(f"SELECT {COLUMNS} FROM records WHERE kind = %s AND id = %s",
                               [kind, record_id]).fetchone()
        if row is None:
            raise RecordNotFound(record_id)
        return _record(row)

    def update(self, kind, record_id, *, status=None, data=None, expect_status=None, due=UNCHANGED,
               claim=None, now=None) -> Record:
        if not _is_uuid(record_id):
            raise RecordNotFound(record_id)
        expected = [expect_status] if isinstance(expect_status, str) else \
            (list(expect_status) if expect_status is not None else None)
        data = _clean(data or {})
        status = _clean(status)
        # One statement: the checks are in its WHERE, so nothing changes unless they all hold.
        # jsonb || replaces top-level keys exactly as the TinyDB backend's merge does.
        params = {
            "kind": kind, "id": record_id, "status": status, "now": now or utcnow(),
            "set": Jsonb({k: v for k, v in data.items() if v is not None}),
            "remove": [k for k, v in data.items() if v is None],
            "keep_due": due is UNCHANGED, "due": None if due is UNCHANGED else due,
            "release": claim is not None, "claim": claim, "expected": expected,
        }
        with self._tx() as conn:
            row = conn.execute(
                "UPDATE records SET"
                " status = coalesce(%(status)s, status),"
                " data = (data || %(set)s) - %(remove)s::text[],"
                " due = CASE WHEN %(keep_due)s THEN due ELSE %(due)s::timestamptz END,"
                " claim = CASE WHEN %(release)s THEN NULL ELSE claim END,"
                " updated = %(now)s"
                " WHERE kind = %(kind)s AND id = %(id)s"
                " AND (%(claim)s::text IS NULL OR claim = %(claim)s::text)"
                " AND (%(expected)s::text[] IS NULL OR status = ANY(%(expected)s::text[]))"
                f" RETURNING {COLUMNS}", params).fetchone()
            if row is not None:
                return _record(row)
            current = conn.execute("SELECT status, claim FROM records WHERE kind = %s AND id = %s",
                                   [kind, record_id]).fetchone()
        if current is None:
            raise RecordNotFound(record_id)
        if claim is not None and current[1] != claim:
            raise ClaimLost(f"{kind} {record_id}: the claim has passed to another worker")
        raise StatusConflict(f"{kind} {record_id} is {current[0]}, not {tuple(expected or ())}")

    def list(self, kind, *, status=None, programme=None, since=None, until=None, limit=None) -> list[Record]:
        where, params = ["kind = %s"], [kind]
        if status is not None:
            where.append("status = ANY(%s)")
            params.append([status] if isinstance(status, str) else list(status))
        if programme is not None:
            where.append("programme = %s")
            params.append(programme)
        if since is not None:
            where.append("created >= %s")
            params.append(since)
        if until is not None:
            where.append("created < %s")
            params.append(until)
        query = f"SELECT {COLUMNS} FROM records WHERE {' AND '.join(where)} ORDER BY created, id"
        if limit is not None:
            query += " LIMIT %s"
            params.append(limit)
        with self._tx() as conn:
            return [_record(row) for row in conn.execute(query, params)]

    def delete(self, kind, record_id) -> bool:
        if not _is_uuid(record_id):
            return False
        with self._tx() as conn:
            return conn.execute("DELETE FROM records WHERE kind = %s AND id = %s RETURNING id",
                                [kind, record_id]).fetchone() is not None

    def purge(self, kind, *, before, programme=UNCHANGED, status=None) -> int:
        where, params = ["kind = %s", "created < %s"], [kind, before]
        if programme is not UNCHANGED:
            if programme is None:
                where.append("programme IS NULL")
            else:
                where.append("programme = %s")
                params.append(programme)
        if status is not None:
            where.append("status = ANY(%s)")
            params.append([status] if isinstance(status, str) else list(status))
        with self._tx() as conn:
            return conn.execute(f"DELETE FROM records WHERE {' AND '.join(where)}", params).rowcount

    def claim(self, kind, *, due_before, lease, limit, now=None) -> list[Record]:
        now = now or utcnow()
        # SKIP LOCKED: two schedulers claiming at once each get rows the other did not lock; a row
        # the other has claimed and committed meanwhile is re-checked and no longer due.
        with self._tx() as conn:
            rows = conn.execute(
                "WITH due AS ("
                "  SELECT id, due FROM records"
                "  WHERE kind = %(kind)s AND due IS NOT NULL AND due <= %(due_before)s"
                "  ORDER BY due, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED)"
                " UPDATE records r SET claim = replace(gen_random_uuid()::text, '-', ''),"
                "  due = %(until)s, updated = %(now)s"
                " FROM due WHERE r.id = due.id"
                f" RETURNING due.due, {', '.join('r.' + c.strip() for c in COLUMNS.split(','))}",
                {"kind": kind, "due_before": due_before, "limit": limit, "until": now + lease, "now": now},
            ).fetchall()
        rows.sort(key=lambda row: (row[0], str(row[1])))
        return [_record(row[1:]) for row in rows]

    def release_claims(self, kind, *, now=None) -> int:
        now = now or utcnow()
        with self._tx() as conn:
            # A claimed record always has a due time (its lease's end): the partial due index finds it.
            return conn.execute("UPDATE records SET claim = NULL, due = %s, updated = %s"
                                " WHERE kind = %s AND due IS NOT NULL AND claim IS NOT NULL",
                                [now, now, _checked_name(kind)]).rowcount

    def count(self, kind) -> int:
        with self._tx() as conn:
            return conn.execute("SELECT count(*) FROM records WHERE kind = %s", [kind]).fetchone()[0]

    def import_records(self, records) -> int:
        """COPY into a temporary table, then one INSERT ... ON CONFLICT DO NOTHING per batch."""
        added = 0
        records = list(records)
        for start in range(0, len(records), _IMPORT_BATCH):
            batch = records[start:start + _IMPORT_BATCH]
            with self._tx(atomic=True) as conn:
                conn.execute("CREATE TEMPORARY TABLE IF NOT EXISTS import_batch"
                             " (LIKE records INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
                with conn.cursor().copy(f"COPY import_batch ({COLUMNS}) FROM STDIN") as copy:
                    for record in batch:
                        _checked_name(record.kind)
                        row = _row(record.but(language=_clean(record.language), programme=_clean(record.programme),
                                              status=_clean(record.status), data=_clean(record.data)))
                        copy.write_row((*row[:-1], json.dumps(row[-1].obj, ensure_ascii=False)))
                added += conn.execute(f"INSERT INTO records ({COLUMNS}) SELECT {COLUMNS} FROM import_batch"
                                      " ON CONFLICT (id) DO NOTHING").rowcount
        return added

    def problems(self) -> list[str]:
        """A schema that does not fit this code; raises StorageUnavailable when the database
        cannot be reached (so /healthz answers 503 and the load balancer looks elsewhere)."""
        with self._tx() as conn:
            problem = _version_problem(self.url, schema_version(conn))
        return [problem] if problem else []

    def describe(self) -> list[str]:
        """What check-config prints: where the database is, its server and schema versions.
        Raises StorageUnavailable when it cannot be used."""
        problem = schema_problem(self.url)
        if problem:
            raise StorageUnavailable(problem)
        with _unavailable(), psycopg.connect(self.url, autocommit=True, **_connect_kwargs()) as conn:
            server = conn.execute("SHOW server_version").fetchone()[0]
            version = schema_version(conn)
        return [f"Storage: PostgreSQL {server} at {where_is(self.url)}, schema version {version}"]

    def leader(self, name: str) -> AdvisoryLeader:
        leader = AdvisoryLeader(self.url, _checked_name(name))
        self._leaders.add(leader)
        return leader

    def notify(self, channel: str) -> None:
        # Inside transaction() the notification goes out when the transaction commits.
        with self._tx() as conn:
            conn.execute("SELECT pg_notify(%s, '')", [_channel(channel)])

    def wait(self, channel: str, timeout: float) -> bool:
        channel = _channel(channel)
        deadline = time.monotonic() + timeout
        with self._listen_lock:
            try:
                with _unavailable():
                    conn = self._listen_on(channel)
                    while True:
                        if self._pending.pop(channel, 0):
                            return True
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            return False
                        for note in conn.notifies(timeout=remaining, stop_after=1):
                            self._pending[note.channel] = self._pending.get(note.channel, 0) + 1
            except StorageUnavailable:
                self._drop_listener()
                raise

    def _listen_on(self, channel: str) -> psycopg.Connection:
        """The listening connection of this process, listening on ``channel`` from now on.
        Notifications that come while nobody waits stay queued on it for the next wait."""
        if self._listener is not None and (self._listener.closed or self._listener_pid != os.getpid()):
            self._drop_listener()
        if self._listener is None:
            self._listener = psycopg.connect(self.url, autocommit=True, **_connect_kwargs())
            self._listener_pid = os.getpid()
        if channel not in self._listening:
            self._listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            self._listening.add(channel)
        return self._listener

    def _drop_listener(self) -> None:
        if self._listener is not None:
            try:
                self._listener.close()
            except psycopg.Error:
                pass
        self._listener = None
        self._listening = set()

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None and self._pool_pid == os.getpid():
                self._pool.close()
            self._pool = None
        with self._listen_lock:
            self._drop_listener()
        for leader in list(self._leaders):
            leader.release()

    # -- for benchmarks and operators --------------------------------------------------------

    def kinds(self) -> dict[str, int]:
        """How many records of each kind there are."""
        with self._tx() as conn:
            return dict(conn.execute("SELECT kind, count(*) FROM records GROUP BY kind ORDER BY kind").fetchall())


class AdvisoryLeader:
    """A deployment-wide lock: a PostgreSQL session-level advisory lock, held by a connection of
    its own. The server frees it the moment that session ends, so a standby can take over."""

    def __init__(self, url: str, name: str):
        self.url = url
        self.name = name
        # pg_try_advisory_lock takes a bigint: the name's hash, the same on every machine.
        self.key = int.from_bytes(hashlib.blake2b(f"forms_service leader {name}".encode(), digest_size=8).digest(),
                                  "big", signed=True)
        self.conn: psycopg.Connection | None = None
        self._lock = threading.Lock()

    def try_acquire(self) -> bool:
        with self._lock:
            if self.conn is not None:
                if self._alive():
                    return True
                self._close()
            try:
                conn = psycopg.connect(
                    self.url, autocommit=True, **_connect_kwargs(), **LEADER_KEEPALIVE,
                    application_name=f"forms {self.name} on {socket.gethostname()} pid {os.getpid()}"[:63])
            except psycopg.OperationalError as error:
                raise StorageUnavailable(f"database unavailable: {_first_line(error)}") from error
            try:
                got = conn.execute("SELECT pg_try_advisory_lock(%s)", [self.key]).fetchone()[0]
            except psycopg.Error as error:
                conn.close()
                raise StorageUnavailable(f"database unavailable: {_first_line(error)}") from error
            if not got:
                conn.close()
                return False
            self.conn = conn
            return True

    def held(self) -> bool:
        with self._lock:
            if self.conn is None:
                return False
            if self._alive():
                return True
            self._close()
            return False

    def holder(self) -> str:
        """Which session holds the lock (its application name and address), for the operator."""
        try:
            with psycopg.connect(self.url, autocommit=True, **_connect_kwargs()) as conn:
                row = conn.execute(
                    "SELECT a.application_name, a.client_addr, a.pid FROM pg_locks l"
                    " JOIN pg_stat_activity a ON a.pid = l.pid"
                    " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
                    " AND l.classid = %s AND l.objid = %s",
                    [(self.key >> 32) & 0xFFFFFFFF, self.key & 0xFFFFFFFF]).fetchone()
        except psycopg.Error:
            return "unknown"
        if row is None:
            return "nobody"
        return f"{row[0] or 'a session'} ({row[1] or 'local'}, server pid {row[2]})"

    def release(self) -> None:
        with self._lock:
            if self.conn is not None:
                try:
                    self.conn.execute("SELECT pg_advisory_unlock(%s)", [self.key])
                except psycopg.Error:
                    pass  # the session is gone, and the lock with it
                self._close()

    def _alive(self) -> bool:
        try:
            return bool(self.conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND pid = pg_backend_pid() AND objsubid = 1 AND classid = %s AND objid = %s",
                [(self.key >> 32) & 0xFFFFFFFF, self.key & 0xFFFFFFFF]).fetchone()[0])
        except psycopg.Error:
            return False

    def _close(self) -> None:
        try:
            self.conn.close()
        except psycopg.Error:
            pass
        self.conn = None


# -- rows ------------------------------------------------------------------------------------------

def _clean(value):
    """``value`` with NUL characters replaced by U+FFFD: PostgreSQL's text and jsonb cannot hold
    them, and in an answer one is never more than noise (a hostile or broken client)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _row(record: Record) -> tuple:
    return (record.id, record.kind, record.language, record.programme, record.created, record.updated,
            record.status, record.due, record.claim, Jsonb(record.data))


def _utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(timezone.utc) if moment is not None else None


def _record(row) -> Record:
    return Record(id=str(row[0]), kind=row[1], language=row[2], programme=row[3], created=_utc(row[4]),
                  updated=_utc(row[5]), status=row[6], due=_utc(row[7]), claim=row[8], data=row[9])


def _checked_name(name: str) -> str:
    if not name or not set(name) <= _NAME_OK:
        raise ValueError(f"not a record kind: {name!r}")
    return name


def _channel(channel: str) -> str:
    return "forms_" + _checked_name(channel)


def _is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except (ValueError, TypeError, AttributeError):
        return False
