"""What the service asks of its storage: one interface, whichever backend runs.

A record is one submission, email or piece of state: an id, a kind (``concern``, ``outbox`` ...),
a language, a programme, its creation and update times, a status, its answers (``data``) and two
fields for the scheduler: ``due``, when the scheduler should next look at it (None: nothing to
do), and ``claim``, the token of the worker that holds it.

Every method is atomic, and returns only once the change is durable: what the service has
acknowledged is there after a crash. Backends: ``tinydb.TinyDBStore`` (the embedded default,
files in the instance folder) and ``postgres.PostgresStore`` (FORMS_DATABASE_URL).
"""

from __future__ import annotations

import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol, runtime_checkable

# Record ids made from a key (an idempotent add) live in this namespace.
KEY_NAMESPACE = uuid.UUID("5d0c6f2e-9a8e-4d6b-9a57-0c1b7e0f3a10")


class StorageUnavailable(RuntimeError):
    """The storage cannot be written or reached (read-only, disk full, lock stuck, server down):
    try again later. Nothing was changed."""


class RecordNotFound(KeyError):
    """No record of that kind has that id."""


class StatusConflict(RuntimeError):
    """The record's status was not the one the caller expected; nothing was changed."""


class ClaimLost(StatusConflict):
    """The caller's claim on the record has expired and another worker holds it; nothing was changed."""


class _Unchanged:
    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED: Any = _Unchanged()


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def key_id(kind: str, key: str) -> str:
    """The record id that an idempotent add with ``key`` gives, the same in every backend."""
    return str(uuid.uuid5(KEY_NAMESPACE, f"{kind}\x00{key}"))


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
    due: datetime | None = None
    claim: str | None = None

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
            "due": self.due.isoformat() if self.due else None,
            "claim": self.claim,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Record:
        due = doc.get("due")
        return cls(
            id=doc["id"],
            kind=doc["kind"],
            language=doc["language"],
            programme=doc.get("programme"),
            created=datetime.fromisoformat(doc["created"]),
            updated=datetime.fromisoformat(doc["updated"]),
            status=doc["status"],
            data=doc.get("data") or {},
            due=datetime.fromisoformat(due) if due else None,
            claim=doc.get("claim"),
        )

    def but(self, **changes) -> Record:
        return replace(self, **changes)


class Leader(Protocol):
    """A lock that one process of the whole deployment holds at a time (the scheduler's)."""

    def try_acquire(self) -> bool:
        """Take the lock if it is free; True when this process holds it (also when it already did)."""

    def held(self) -> bool:
        """Whether this process still holds it (a lost database session loses it)."""

    def release(self) -> None:
        """Let it go, so that a standby can take over at once."""

    def holder(self) -> str:
        """Which process holds it, for the operator: text with "pid N" in it, or "nobody"."""


@runtime_checkable
class Store(Protocol):
    """The storage interface. Backends pass the same contract tests (tests/test_storage_contract.py)."""

    def add(self, kind: str, *, language: str, programme: str | None, status: str, data: dict[str, Any],
            created: datetime | None = None, due: datetime | None = None, key: str | None = None) -> Record:
        """Store a new record. With ``key``, the add is idempotent: the record's id is
        ``key_id(kind, key)``, and when it exists already the stored record is returned unchanged."""

    def get(self, kind: str, record_id: str) -> Record:
        """The record, or RecordNotFound (also for an id that is not a uuid)."""

    def update(self, kind: str, record_id: str, *, status: str | None = None, data: dict[str, Any] | None = None,
               expect_status: str | tuple[str, ...] | None = None, due: datetime | None = UNCHANGED,
               claim: str | None = None, now: datetime | None = None) -> Record:
        """Change status, merge keys into data (a key set to None is removed) and set due, in one
        atomic write. ``expect_status``: only if the status is one of those, else StatusConflict.
        ``claim``: only if the record is still claimed with that token (else ClaimLost); the
        claim is released by the update."""

    def list(self, kind: str, *, status: str | tuple[str, ...] | None = None, programme: str | None = None,
             since: datetime | None = None, until: datetime | None = None, limit: int | None = None) -> list[Record]:
        """Records of a kind, oldest first, filtered by status, programme and creation time."""

    def delete(self, kind: str, record_id: str) -> bool:
        """Remove a record; False when there was none."""

    def purge(self, kind: str, *, before: datetime, programme: str | None = UNCHANGED,
              status: str | tuple[str, ...] | None = None) -> int:
        """Delete the records of a kind created before ``before`` (optionally only one programme's,
        None meaning records with no programme, and only these statuses); returns how many."""

    def claim(self, kind: str, *, due_before: datetime, lease: timedelta, limit: int,
              now: datetime | None = None) -> list[Record]:
        """Hand each record whose due time has come to exactly one caller: at most ``limit``,
        earliest due first. Each comes back with a fresh ``claim`` token and its due time moved
        to now + lease, so that a caller that dies leaves it to be claimed again after the lease.
        A record claimed by another caller whose lease has not run out is not returned."""

    def release_claims(self, kind: str, *, now: datetime | None = None) -> int:
        """Drop every claim on records of a kind and make those records due now; returns how
        many. For a process that has just taken the scheduler's leader lock: every claimer holds
        that lock, so a claim then standing belongs to one that is gone, and its records would
        otherwise wait out the lease."""

    def count(self, kind: str) -> int:
        """How many records of a kind there are."""

    def import_records(self, records: list[Record]) -> int:
        """Store records as they are (ids, times, statuses), skipping ids that exist; returns
        how many were new. For moving a deployment and for benchmarks."""

    def problems(self) -> list[str]:
        """What is wrong with the stored data (for check-config and /healthz), without content."""

    def leader(self, name: str) -> Leader:
        """The deployment-wide lock called ``name``: a file lock in the instance folder, or a
        PostgreSQL advisory lock held by a session of its own. Released when the process dies."""

    def notify(self, channel: str) -> None:
        """Wake whoever waits on ``channel`` (a new submission wakes the sender)."""

    def wait(self, channel: str, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a notify on ``channel``; True if one came."""

    def transaction(self) -> AbstractContextManager[None]:
        """``with store.transaction():`` makes this thread's calls on the store inside the block one
        transaction where the backend has them (PostgreSQL): a status change and the email it calls
        for are stored together or not at all. TinyDB's is a no-op: each call stands alone."""

    def close(self) -> None:
        """Let go of connections and files."""
