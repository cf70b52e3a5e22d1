"""The embedded default: every record in TinyDB files under the instance folder's ``data/``.

Layout: each kind has its own folder, and a record lives in one of up to 4,096 bucket files
chosen by the first three hex digits of its id (``data/concern/3fa.json``). A write reads and
rewrites one small bucket, so the cost of a submission does not grow with the number of records
already stored, and ``get`` opens exactly one file.

Safety: every write holds the bucket's file lock (flock on ``3fa.json.lock``, opened for the
write and closed after, so the number of open descriptors never grows with the data) and
replaces the bucket atomically (write a temporary file, fsync, rename, fsync the folder). A
crash leaves either the old bucket or the new one, never half of one; a call returns only once
the data is on disk. Readers take no lock: they always see a whole file.

The due index: a record with a due time has a marker file ``due/<day>/<time>_<id>`` in its
kind's folder, so that the scheduler finds what is due by listing the markers up to now, never
by reading every bucket. The record's own ``due`` is the truth and the marker only a pointer: a
new marker is written before the bucket and the old one removed after, so a crash leaves at
most a stale marker (dropped when met), never a due record without one. Markers are not
fsynced; ``reindex`` (run when the scheduler starts, and nightly) rebuilds them from the
buckets after a power cut.

Damage stays local: a bucket that cannot be parsed is moved to ``corrupt/`` in its kind's folder
and reported by ``problems``; every other record still loads.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Document, Table

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

BUCKET_DIGITS = 3
LOCK_TIMEOUT_S = 30
TABLE = "records"
_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyz_")
_STAMP = "%Y%m%dT%H%M%S%f"
WAKE_POLL_S = 0.25


class CorruptBucket(Exception):
    """A bucket file that is not valid JSON."""


class AtomicJSONStorage(Storage):
    """TinyDB storage for one bucket: a log of JSON lines in a file with room to spare, durable
    on every write.

    A line is a snapshot (``{"records": {...}}``) or a change (``{"put": {id: record},
    "del": [id]}``); reading applies them in order. The file is written with zero bytes after
    its lines, and a write puts one line with what changed into that room and syncs the file's
    data once: the file's size does not change, so the sync writes no metadata, which is what
    makes an add cost about as much as a database's commit. A crash in the middle of a write
    leaves a torn last line, which reading ignores (the write was never acknowledged) and the
    next write covers. When the room runs out, or after ``COMPACT_AFTER`` lines, the bucket is
    rewritten as one snapshot with new room, atomically (a temporary file, fsync, rename, fsync
    of the folder), as a new bucket is created. A bucket written by an earlier version (one JSON
    document) reads as a snapshot.
    """

    COMPACT_AFTER = 32
    MIN_ROOM = 4096

    def __init__(self, path: str):
        self.path = Path(path)
        self._records: dict | None = None
        self._lines = 0
        self._used = 0  # where the next line goes: after the last whole line
        self._size = 0
        self._loaded = False

    def read(self) -> dict | None:
        # The bucket is locked for this storage's whole life, so the file changes only through
        # write(): it is read from disk once, and later reads are answered from what it holds.
        if not self._loaded:
            try:
                raw = self.path.read_bytes()
            except FileNotFoundError:
                raw = b""
            self._records, self._lines, self._used = parse_log(raw, self.path)
            self._size = len(raw)
            self._loaded = True
        # A copy for TinyDB, which changes what it is given, so that ours stays what the file
        # holds. TinyDB adds and removes documents and sets a document's own keys, never what is
        # nested in them (and the store always sets new values): copying two levels is enough.
        if self._records is None:
            return None
        return {TABLE: {key: dict(doc) for key, doc in self._records.items()}}

    def write(self, data: dict) -> None:
        new = data.get(TABLE, {})
        line = b""
        if self._records is not None and self._lines < self.COMPACT_AFTER:
            old = self._records
            change = {"put": {key: doc for key, doc in new.items() if old.get(key) != doc},
                      "del": [key for key in old if key not in new]}
            line = (json.dumps(change, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        if line and self._used + len(line) <= self._size:
            self._put_line(line)
            self._lines += 1
        else:
            self._replace(new)
        self._records = new  # TinyDB lets go of what it wrote; its next read gets a copy

    def _put_line(self, line: bytes) -> None:
        fd = os.open(self.path, os.O_RDWR)
        try:
            # Zeros over whatever a torn write left beyond the new line.
            tail = os.pread(fd, min(self._size - self._used, 65536), self._used)
            dirty = len(tail.rstrip(b"\0"))
            payload = line + b"\0" * max(dirty - len(line), 0)
            try:
                os.pwrite(fd, payload, self._used)
                os.fdatasync(fd)
            except BaseException:
                # Not durable, so not done: take the line back, as the caller is told it failed.
                try:
                    os.pwrite(fd, b"\0" * len(payload), self._used)
                except OSError:
                    pass
                raise
            self._used += len(line)
        finally:
            os.close(fd)

    def _replace(self, records: dict) -> None:
        folder = self.path.parent
        # dumps, not dump: it runs the C encoder in one go instead of writing chunk by chunk.
        line = (json.dumps({TABLE: records}, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        room = -(-max(len(line) * 2, len(line) + self.MIN_ROOM) // 4096) * 4096
        payload = memoryview(line + b"\0" * (room - len(line)))
        # The bucket is locked, so this writer is its only one: a name of its own is enough.
        tmp = folder / f".{self.path.name}.{os.getpid()}.tmp"
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
        _fsync_folder(folder)
        self._lines, self._used, self._size = 1, len(line), room

    def close(self) -> None:
        pass


def parse_log(raw: bytes, path: Path) -> tuple[dict | None, int, int]:
    """(records, lines, where the next line goes) of a bucket's bytes; CorruptBucket if a line
    other than the last cannot be read. A last line that cannot be read is a write cut short
    (never acknowledged) and does not count; one without its newline (an earlier version's
    bucket) is whole, and the next write goes after it into a new file."""
    content = raw.rstrip(b"\0")
    if not content.strip():
        return None, 0, 0
    lines = content.split(b"\n")
    tail = lines.pop()  # after the last newline: empty, or a write cut short
    records: dict | None = None
    count = 0
    used = len(content) - len(tail)
    for line in lines + ([tail] if tail.strip() else []):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            if line is tail and count:
                # A write cut short. (The first line is always written whole, by a rename, so a
                # bad first line is damage, not a torn write.)
                return records, count, used
            raise CorruptBucket(path) from None
        if not isinstance(entry, dict):
            raise CorruptBucket(path)
        count += 1
        if TABLE in entry:
            if not isinstance(entry[TABLE], dict):
                raise CorruptBucket(path)
            records = dict(entry[TABLE])
        else:
            records = {} if records is None else records
            puts, deletes = entry.get("put", {}), entry.get("del", [])
            if not isinstance(puts, dict) or not isinstance(deletes, list):
                raise CorruptBucket(path)
            records.update(puts)
            for key in deletes:
                records.pop(key, None)
    if tail.strip():
        used = len(raw) + 1  # whole but unterminated: no room, so the next write makes a new file
    return records, count, used


def read_bucket(path: Path) -> dict | None:
    """A bucket's records as TinyDB stores them, or None; CorruptBucket when it cannot be read."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    records, _, _ = parse_log(raw, path)
    return None if records is None else {TABLE: records}


def _fsync_folder(folder: Path) -> None:
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class _RecordTable(Table):
    """A TinyDB table keyed by the records' uuid strings rather than by counters."""

    document_id_class = str

    def _get_next_id(self):  # pragma: no cover - every insert names its id
        raise RuntimeError("records are inserted with their own id")


class _Bucket(TinyDB):
    table_class = _RecordTable
    default_table_name = TABLE


class TinyDBStore:
    """The records of one instance folder (see the module's docstring)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self._seen: dict[str, int] = {}
        _private_folder(self.root)

    # -- the interface -------------------------------------------------------------------

    def add(self, kind, *, language, programme, status, data, created=None, due=None, key=None) -> Record:
        now = created or utcnow()
        record = Record(
            id=key_id(kind, key) if key is not None else str(uuid.uuid4()),
            kind=_checked_kind(kind), language=language, programme=programme,
            created=now, updated=now, status=status, data=data, due=due,
        )
        with self._bucket(kind, record.id) as table:
            existing = table.get(doc_id=record.id)
            if existing is not None:
                if key is None:  # pragma: no cover - a uuid4 clash
                    raise StorageUnavailable("record id clash")
                return Record.from_json(existing)
            self._mark_due(kind, record.id, due)
            table.insert(Document(record.to_json(), doc_id=record.id))
        return record

    def get(self, kind, record_id) -> Record:
        if not _is_uuid(record_id):
            raise RecordNotFound(record_id)
        doc = self._read_doc(kind, record_id)
        if doc is None:
            raise RecordNotFound(record_id)
        return Record.from_json(doc)

    def update(self, kind, record_id, *, status=None, data=None, expect_status=None, due=UNCHANGED,
               claim=None, now=None) -> Record:
        if not _is_uuid(record_id):
            raise RecordNotFound(record_id)
        with self._bucket(kind, record_id) as table:
            doc = table.get(doc_id=record_id)
            if doc is None:
                raise RecordNotFound(record_id)
            old = Record.from_json(doc)
            _check_expected(old, kind, expect_status, claim)
            new = _changed(old, status=status, data=data, due=due, release=claim is not None, now=now)
            self._write(kind, table, old, new)
        return new

    def list(self, kind, *, status=None, programme=None, since=None, until=None, limit=None) -> list[Record]:
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
        found.sort(key=lambda r: (r.created, r.id))
        return found[:limit] if limit is not None else found

    def delete(self, kind, record_id) -> bool:
        if not _is_uuid(record_id):
            return False
        with self._bucket(kind, record_id) as table:
            doc = table.get(doc_id=record_id)
            if doc is None:
                return False
            table.remove(doc_ids=[record_id])
        self._unmark_due(kind, record_id, Record.from_json(doc).due)
        return True

    def purge(self, kind, *, before, programme=UNCHANGED, status=None) -> int:
        statuses = (status,) if isinstance(status, str) else status
        deleted = 0
        for doc in list(self._all_docs(kind)):
            if programme is not UNCHANGED and doc.get("programme") != programme:
                continue
            if statuses is not None and doc["status"] not in statuses:
                continue
            if datetime.fromisoformat(doc["created"]) < before and self.delete(kind, doc["id"]):
                deleted += 1
        return deleted

    def claim(self, kind, *, due_before, lease, limit, now=None) -> list[Record]:
        now = now or utcnow()
        claimed: list[Record] = []
        for marker in self._due_markers(kind, due_before):
            if len(claimed) >= limit:
                break
            with self._marked_record(kind, marker) as (table, old):
                if old is None or old.due > due_before:
                    continue
                new = old.but(claim=uuid.uuid4().hex, due=now + lease, updated=now)
                self._write(kind, table, old, new)
            claimed.append(new)
        return claimed

    def release_claims(self, kind, *, now=None) -> int:
        now = now or utcnow()
        released = 0
        # A claimed record always has a due time (its lease's end), so the due index lists it.
        for marker in list(self._due_markers(kind, utcnow().replace(year=9999))):
            with self._marked_record(kind, marker) as (table, old):
                if old is None or old.claim is None:
                    continue
                self._write(kind, table, old, old.but(claim=None, due=now, updated=now))
            released += 1
        return released

    def count(self, kind) -> int:
        return sum(1 for _ in self._all_docs(kind))

    def import_records(self, records) -> int:
        """One write per bucket: for restores, migrations and benchmarks."""
        by_bucket: dict[tuple[str, str], list[Record]] = {}
        for record in records:
            by_bucket.setdefault((record.kind, record.id[:BUCKET_DIGITS]), []).append(record)
        added = 0
        for (kind, _), group in by_bucket.items():
            with self._bucket(kind, group[0].id) as table:
                present = {doc.doc_id for doc in table.all()}
                new = [r for r in group if r.id not in present]
                for record in new:
                    self._mark_due(kind, record.id, record.due)
                table.insert_multiple(Document(r.to_json(), doc_id=r.id) for r in new)
                added += len(new)
        return added

    def problems(self) -> list[str]:
        found = []
        if self.root.is_dir():
            for folder in sorted(self.root.glob("*/corrupt")):
                for path in sorted(folder.iterdir()):
                    found.append(f"{folder.parent.name}: damaged file moved aside to {path}")
        return found

    def leader(self, name: str) -> FileLeader:
        return FileLeader(self.root.parent / f"{_checked_kind(name)}.lock")

    def notify(self, channel: str) -> None:
        path = self.root / f".wake-{_checked_kind(channel)}"
        try:
            path.touch(mode=0o600)
        except OSError:
            pass  # a wake-up is a courtesy: the waiter polls anyway

    def wait(self, channel: str, timeout: float) -> bool:
        """Poll the channel's file; a notify since this store's last wait counts too, so a
        submission made while the scheduler was busy is not left for the next round."""
        path = self.root / f".wake-{_checked_kind(channel)}"

        def stamp() -> int:
            try:
                return path.stat().st_mtime_ns
            except FileNotFoundError:
                return 0

        seen = self._seen.setdefault(channel, stamp())
        deadline = time.monotonic() + timeout
        while True:
            now = stamp()
            if now != seen:
                self._seen[channel] = now
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(WAKE_POLL_S, max(deadline - time.monotonic(), 0)))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """No shared transaction here: each call is atomic and durable on its own, and a crash
        between two of them is what the records' statuses and due times are there to survive."""
        yield

    def close(self) -> None:
        pass

    def reindex(self) -> int:
        """Rebuild the due markers from the buckets; returns how many records are due at all."""
        count = 0
        for kind_folder in sorted(p for p in self.root.iterdir() if p.is_dir()) if self.root.is_dir() else []:
            kind = kind_folder.name
            if not set(kind) <= _NAME_OK:
                continue
            for doc in self._all_docs(kind):
                due = doc.get("due")
                if due:
                    self._mark_due(kind, doc["id"], datetime.fromisoformat(due))
                    count += 1
        return count

    # -- buckets ---------------------------------------------------------------------------

    def _folder(self, kind: str) -> Path:
        return self.root / _checked_kind(kind)

    def _bucket_path(self, kind: str, record_id: str) -> Path:
        return self._folder(kind) / f"{record_id[:BUCKET_DIGITS]}.json"

    @contextmanager
    def _bucket(self, kind: str, record_id: str) -> Iterator[Table]:
        """One bucket opened with TinyDB under its lock."""
        path = self._bucket_path(kind, record_id)
        try:
            _private_folder(path.parent)
        except OSError as error:
            raise StorageUnavailable(f"cannot create {path.parent.name}: {error.strerror}") from error
        with _flock(path.with_name(path.name + ".lock")):
            storage = AtomicJSONStorage(str(path))
            try:
                storage.read()
            except CorruptBucket:
                self._quarantine(path)
                storage = AtomicJSONStorage(str(path))
            db = _Bucket(str(path), storage=lambda *_: storage)
            try:
                yield db.table(TABLE)
            except OSError as error:
                if isinstance(error, FileNotFoundError):
                    raise
                raise StorageUnavailable(f"cannot write {path.name}: {error.strerror}") from error
            finally:
                db.close()

    def _read_doc(self, kind: str, record_id: str) -> dict | None:
        path = self._bucket_path(kind, record_id)
        try:
            data = read_bucket(path) or {}
        except CorruptBucket:
            with self._bucket(kind, record_id):
                pass  # moves the damaged file aside under the lock
            return None
        except OSError as error:
            raise StorageUnavailable(f"cannot read {path.name}: {error.strerror}") from error
        return data.get(TABLE, {}).get(record_id)

    def _quarantine(self, path: Path) -> None:
        """Move a bucket that cannot be read aside (under its lock), so every other record loads."""
        folder = path.parent / "corrupt"
        _private_folder(folder)
        target = folder / f"{path.name}.{utcnow().strftime(_STAMP)}"
        os.replace(path, target)
        log.error("storage: %s/%s could not be read and was moved to %s", path.parent.name, path.name, target)

    def _all_docs(self, kind: str) -> Iterator[dict[str, Any]]:
        folder = self._folder(kind)
        if not folder.is_dir():
            return
        for path in sorted(folder.glob("*.json")):
            try:
                data = read_bucket(path) or {}
            except CorruptBucket:
                with self._bucket(kind, path.stem + "0" * 33):
                    pass  # moves the damaged file aside under the lock
                continue
            except OSError as error:
                raise StorageUnavailable(f"cannot read {path.name}: {error.strerror}") from error
            yield from data.get(TABLE, {}).values()

    def _write(self, kind: str, table: Table, old: Record, new: Record) -> None:
        self._mark_due(kind, new.id, new.due)
        table.update(new.to_json(), doc_ids=[new.id])
        if old.due is not None and (new.due is None or _stamp(old.due) != _stamp(new.due)):
            self._unmark_due(kind, old.id, old.due)

    # -- the due index ---------------------------------------------------------------------

    def _marker(self, kind: str, record_id: str, due: datetime) -> Path:
        stamp = _stamp(due)
        return self._folder(kind) / "due" / stamp[:8] / f"{stamp}_{record_id}"

    def _mark_due(self, kind: str, record_id: str, due: datetime | None) -> None:
        if due is None:
            return
        marker = self._marker(kind, record_id, due)
        for _ in range(3):
            try:
                _private_folder(marker.parent)
                os.close(os.open(marker, os.O_WRONLY | os.O_CREAT, 0o600))
                return
            except FileNotFoundError:
                continue  # the day's folder was removed as empty meanwhile: make it again
            except OSError as error:
                raise StorageUnavailable(f"cannot write the due index: {error.strerror}") from error

    def _unmark_due(self, kind: str, record_id: str, due: datetime | None) -> None:
        if due is not None:
            self._marker(kind, record_id, due).unlink(missing_ok=True)

    @contextmanager
    def _marked_record(self, kind: str, marker: tuple[datetime, str, Path]) -> Iterator[tuple[Table, Record | None]]:
        """The record a due marker points to, under its bucket's lock, with the table to write it
        to; None (and the marker dropped) when the record has moved on or is gone."""
        moment, record_id, path = marker
        with self._bucket(kind, record_id) as table:
            doc = table.get(doc_id=record_id)
            record = Record.from_json(doc) if doc is not None else None
            if record is None or record.due is None or _stamp(record.due) != _stamp(moment):
                path.unlink(missing_ok=True)
                record = None
            yield table, record

    def _due_markers(self, kind: str, due_before: datetime) -> Iterator[tuple[datetime, str, Path]]:
        """(due, id, marker) of markers due by ``due_before``, earliest first."""
        index = self._folder(kind) / "due"
        if not index.is_dir():
            return
        limit = _stamp(due_before)
        days = sorted(name for name in os.listdir(index) if name <= limit[:8])
        for day in days:
            try:
                names = sorted(os.listdir(index / day))
            except FileNotFoundError:
                continue
            if not names and day < limit[:8]:
                try:
                    (index / day).rmdir()
                except OSError:
                    pass
            for name in names:
                stamp, _, record_id = name.partition("_")
                if stamp > limit:
                    break
                try:
                    moment = datetime.strptime(stamp, _STAMP).replace(tzinfo=due_before.tzinfo)
                except ValueError:
                    continue
                yield moment, record_id, index / day / name


class FileLeader:
    """The scheduler's lock for one instance folder: flock on a file, freed by the kernel when
    the holding process dies; the holder's pid is written beside it for the operator."""

    def __init__(self, path: Path):
        self.path = path
        self.fd: int | None = None

    def try_acquire(self) -> bool:
        if self.fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{socket.gethostname()} pid {os.getpid()}".encode())
        self.fd = fd
        return True

    def held(self) -> bool:
        return self.fd is not None

    def holder(self) -> str:
        """The holder's host and pid; "nobody" once the lock is free (a dead holder's text stays)."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return "nobody"
        except OSError:
            return "unknown"
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # closing the file lets it go again
            return "nobody"
        except BlockingIOError:
            return os.read(fd, 200).decode("utf-8", "replace").strip() or "unknown"
        finally:
            os.close(fd)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


@contextmanager
def _flock(path: Path):
    """Exclusive use of a bucket between threads and processes: flock on a descriptor of this
    call's own (flock locks belong to the open file, so two threads of one process exclude each
    other too), closed afterwards so that descriptors never pile up."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as error:
        raise StorageUnavailable(f"cannot lock {path.name}: {error.strerror}") from error
    try:
        deadline, pause = time.monotonic() + LOCK_TIMEOUT_S, 0.0005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StorageUnavailable(f"{path.name} stayed locked for {LOCK_TIMEOUT_S} s") from None
                time.sleep(pause)
                pause = min(pause * 2, 0.01)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _private_folder(folder: Path) -> None:
    """Make a folder (and its parents) readable by the service's user alone."""
    if not folder.is_dir():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)


def _check_expected(record: Record, kind: str, expect_status, claim) -> None:
    expected = (expect_status,) if isinstance(expect_status, str) else expect_status
    if claim is not None and record.claim != claim:
        raise ClaimLost(f"{kind} {record.id}: the claim has passed to another worker")
    if expected is not None and record.status not in expected:
        raise StatusConflict(f"{kind} {record.id} is {record.status}, not {expected}")


def _changed(old: Record, *, status, data, due, release: bool, now) -> Record:
    """The record after an update (shared by the backends' contract)."""
    merged = dict(old.data)
    for key, value in (data or {}).items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return old.but(
        status=old.status if status is None else status,
        data=merged,
        due=old.due if due is UNCHANGED else due,
        claim=None if release else old.claim,
        updated=now or utcnow(),
    )


def _stamp(moment: datetime) -> str:
    return moment.astimezone(utcnow().tzinfo).strftime(_STAMP)


def _checked_kind(kind: str) -> str:
    if not kind or not set(kind) <= _NAME_OK:
        raise ValueError(f"not a record kind: {kind!r}")
    return kind


def _is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except (ValueError, TypeError, AttributeError):
        return False
