"""Every record the service keeps, in TinyDB files under the instance folder.

This module is the only one that touches the data files. Its interface is small: add, get,
update, list and delete records, each record carrying an id (uuid4), kind, language, programme,
created and updated times (UTC), status and data.

Layout: each kind has its own folder, and a record lives in one of up to 4,096 bucket files
chosen by the first three hex digits of its id (``data/concern/3fa.json``). A write reads and
rewrites one small bucket, so the cost of a submission does not grow with the number of records
already stored, and ``get`` opens exactly one file.

Safety: every write holds the bucket's lock (a thread lock and a file lock, so threads and
processes queue up) and replaces the bucket atomically (write a temporary file, fsync, rename, fsync the folder).
A crash leaves either the old bucket or the new one, never half of one. A call returns only
once the data is on disk, so whatever the service acknowledges is there after a crash.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Document, Table

BUCKET_DIGITS = 3
LOCK_TIMEOUT_S = 30
_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyz_")


class StorageUnavailable(RuntimeError):
    """The data folder cannot be written (read-only, disk full, lock stuck): try again later."""


class RecordNotFound(KeyError):
    """No record has that id."""


class StatusConflict(RuntimeError):
    """The record's status was not the one the caller expected; nothing was changed."""


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Record:
    id: str
    kind: str
    language: str
    programme: str | None
    created: datetime
    updated: datetime
    status: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "language": self.language,
            "programme": self.programme,
            "created": self.created.isoformat(),
            "updated": self.updated.isoformat(),
            "status": self.status,
            "data": self.data,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Record:
        return cls(
            id=doc["id"],
            kind=doc["kind"],
            language=doc["language"],
            programme=doc.get("programme"),
            created=datetime.fromisoformat(doc["created"]),
            updated=datetime.fromisoformat(doc["updated"]),
            status=doc["status"],
            data=doc.get("data", {}),
        )


class AtomicJSONStorage(Storage):
    """TinyDB storage that replaces its file atomically and durably on every write."""

    def __init__(self, path: str):
        self.path = Path(path)

    def read(self) -> dict | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        return json.loads(text) if text else None

    def write(self, data: dict) -> None:
        folder = self.path.parent
        # dumps, not dump: it runs the C encoder in one go instead of writing chunk by chunk.
        payload = memoryview(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        # The bucket is locked, so this writer is its only one: a name of its own is enough.
        tmp = folder / f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                while payload:
                    payload = payload[os.write(fd, payload):]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def close(self) -> None:
        pass


class _RecordTable(Table):
    """A TinyDB table keyed by the records' uuid strings rather than by counters."""

    document_id_class = str

    def _get_next_id(self):  # pragma: no cover - every insert names its id
        raise RuntimeError("records are inserted with their own id")


class _Bucket(TinyDB):
    table_class = _RecordTable
    default_table_name = "records"


class Store:
    """The records of one instance folder."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self._locks: dict[Path, _BucketLock] = {}
        self._guard = threading.Lock()

    # -- the interface -------------------------------------------------------------------

    def add(
        self,
        kind: str,
        *,
        language: str,
        programme: str | None,
        status: str,
        data: dict[str, Any],
        created: datetime | None = None,
    ) -> Record:
        """Store a new record and return it once it is on disk."""
        now = created or utcnow()
        record = Record(
            id=str(uuid.uuid4()),
            kind=_checked_kind(kind),
            language=language,
            programme=programme,
            created=now,
            updated=now,
            status=status,
            data=data,
        )
        with self._open(kind, record.id) as table:
            table.insert(Document(record.to_json(), doc_id=record.id))
        return record

    def get(self, kind: str, record_id: str) -> Record:
        """The record with this id, or RecordNotFound."""
        if not _is_uuid(record_id):
            raise RecordNotFound(record_id)
        with self._open(kind, record_id) as table:
            doc = table.get(doc_id=record_id)
        if doc is None:
            raise RecordNotFound(record_id)
        return Record.from_json(doc)

    def update(
        self,
        kind: str,
        record_id: str,
        *,
        status: str | None = None,
        data: dict[str, Any] | None = None,
        expect_status: str | tuple[str, ...] | None = None,
        now: datetime | None = None,
    ) -> Record:
        """Change a record's status and merge keys into its data, in one atomic write.

        With ``expect_status`` the change happens only if the record's status is one of those;
        otherwise StatusConflict is raised and nothing is written. This is how two requests
        or two senders never act on the same record twice.
        """
        if not _is_uuid(record_id):
            raise RecordNotFound(record_id)
        with self._open(kind, record_id) as table:
            doc = table.get(doc_id=record_id)
            if doc is None:
                raise RecordNotFound(record_id)
            expected = (expect_status,) if isinstance(expect_status, str) else expect_status
            if expected is not None and doc["status"] not in expected:
                raise StatusConflict(f"{kind} {record_id} is {doc['status']}, not {expected}")
            changed = dict(doc)
            if status is not None:
                changed["status"] = status
            if data:
                changed["data"] = {**doc.get("data", {}), **data}
            changed["updated"] = (now or utcnow()).isoformat()
            table.update(changed, doc_ids=[record_id])
        return Record.from_json(changed)

    def list(
        self,
        kind: str,
        *,
        status: str | tuple[str, ...] | None = None,
        programme: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[Record]:
        """Records of a kind, oldest first, filtered by status, programme and creation time."""
        statuses = (status,) if isinstance(status, str) else status
        found = []
        for doc in self._all_docs(kind):
            if statuses is not None and doc["status"] not in statuses:
                continue
            if programme is not None and doc.get("programme") != programme:
                continue
            record = Record.from_json(doc)
            if since is not None and record.created < since:
                continue
            if until is not None and record.created >= until:
                continue
            found.append(record)
        found.sort(key=lambda r: r.created)
        return found

    def delete(self, kind: str, record_id: str) -> bool:
        """Remove a record; False when there was none."""
        if not _is_uuid(record_id):
            return False
        with self._open(kind, record_id) as table:
            if table.get(doc_id=record_id) is None:
                return False
            table.remove(doc_ids=[record_id])
        return True

    def import_records(self, records: list[Record]) -> None:
        """Store many records at once, one write per bucket: for restores, migrations and benchmarks."""
        by_bucket: dict[Path, list[Record]] = {}
        for record in records:
            by_bucket.setdefault(self._bucket_path(record.kind, record.id), []).append(record)
        for path, group in by_bucket.items():
            with _BucketSession(self, path) as table:
                table.insert_multiple(Document(r.to_json(), doc_id=r.id) for r in group)

    def count(self, kind: str) -> int:
        return sum(1 for _ in self._all_docs(kind))

    # -- the files -----------------------------------------------------------------------

    def _bucket_path(self, kind: str, record_id: str) -> Path:
        return self.root / _checked_kind(kind) / f"{record_id[:BUCKET_DIGITS]}.json"

    def _lock_for(self, path: Path) -> _BucketLock:
        with self._guard:
            if path not in self._locks:
                self._locks[path] = _BucketLock(path.with_name(path.name + ".lock"))
            return self._locks[path]

    def _open(self, kind: str, record_id: str):
        return _BucketSession(self, self._bucket_path(kind, record_id))

    def _all_docs(self, kind: str) -> Iterator[dict[str, Any]]:
        folder = self.root / _checked_kind(kind)
        if not folder.is_dir():
            return
        for path in sorted(folder.glob("*.json")):
            data = AtomicJSONStorage(str(path)).read() or {}
            yield from data.get(_Bucket.default_table_name, {}).values()


class _BucketLock:
    """Exclusive use of one bucket: a thread lock inside the process, and an advisory lock
    (flock) on the bucket's lock file between processes.

    The lock file stays open, so taking the lock is one system call. (filelock opens and closes
    its file on every acquire, which was about a seventh of the cost of a submission in
    bench/submissions.py.) A forked child opens a descriptor of its own, because one inherited
    from the parent would share the parent's lock instead of competing with it.
    """

    def __init__(self, path: Path):
        self.path = path
        self.thread_lock = threading.Lock()
        self.fd: int | None = None
        self.pid: int | None = None

    def acquire(self) -> None:
        if not self.thread_lock.acquire(timeout=LOCK_TIMEOUT_S):
            raise StorageUnavailable(f"{self.path.name} stayed locked for {LOCK_TIMEOUT_S} s")
        try:
            if self.pid != os.getpid():
                self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                self.pid = os.getpid()
            deadline, pause = time.monotonic() + LOCK_TIMEOUT_S, 0.0005
            while True:
                try:
                    fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise StorageUnavailable(f"{self.path.name} stayed locked for {LOCK_TIMEOUT_S} s") from None
                    time.sleep(pause)
                    pause = min(pause * 2, 0.01)
        except OSError as error:
            self.thread_lock.release()
            raise StorageUnavailable(f"cannot lock {self.path.name}: {error.strerror}") from error
        except BaseException:
            self.thread_lock.release()
            raise

    def release(self) -> None:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            self.thread_lock.release()


class _BucketSession:
    """One bucket, opened with TinyDB under its lock; the folder is made on first use."""

    def __init__(self, store: Store, path: Path):
        self.store, self.path = store, path

    def __enter__(self) -> Table:
        if not self.path.parent.is_dir():
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StorageUnavailable(f"cannot create {self.path.parent.name}: {error.strerror}") from error
        self._lock = self.store._lock_for(self.path)
        self._lock.acquire()
        self._db = _Bucket(str(self.path), storage=AtomicJSONStorage)
        return self._db.table(_Bucket.default_table_name)

    def __exit__(self, exc_type, exc, tb):
        try:
            self._db.close()
        finally:
            self._lock.release()
        if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError):
            raise StorageUnavailable(f"cannot write {self.path.name}: {exc.strerror}") from exc
        return False


def _checked_kind(kind: str) -> str:
    if not kind or not set(kind) <= _NAME_OK:
        raise ValueError(f"not a record kind: {kind!r}")
    return kind


def _is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except (ValueError, TypeError, AttributeError):
        return False


def init_app(app: Flask) -> None:
    app.extensions["store"] = Store(Path(app.instance_path) / "data")


def store() -> Store:
    """The store of the running app."""
    return current_app.extensions["store"]
