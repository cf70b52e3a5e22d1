"""The storage contract: one suite, run against every backend (TinyDB files and PostgreSQL).

What the service relies on, whichever backend runs: idempotent adds, checked updates, claims
that hand each due record to exactly one worker, leases that expire, purges, imports, the
leader lock and wake-ups.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from forms_service.storage import (
    ClaimLost,
    Record,
    RecordNotFound,
    StatusConflict,
    Store,
    key_id,
    utcnow,
)
from forms_service.storage.tinydb import TinyDBStore

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(params=["tinydb", "postgres"])
def open_store(request, tmp_path):
    """Opens another store on the same data, as another process or machine would (closed after)."""
    opened: list[Store] = []
    if request.param == "tinydb":
        def make() -> Store:
            return TinyDBStore(tmp_path / "data")
    else:
        from forms_service.storage.postgres import PostgresStore

        url = request.getfixturevalue("database_url")

        def make() -> Store:
            return PostgresStore(url)

    def open_() -> Store:
        opened.append(make())
        return opened[-1]

    yield open_
    for store in opened:
        store.close()


@pytest.fixture
def records(open_store) -> Store:
    return open_store()


def add(records, kind="concern", *, status="new", programme="p", data=None, **kwargs) -> Record:
    return records.add(kind, language="nb", programme=programme, status=status, data=data or {}, **kwargs)


def test_both_backends_implement_the_interface(records):
    assert isinstance(records, Store)
    assert records.problems() == []


def test_add_then_get_returns_the_same_record(records):
    added = add(records, data={"observed": "Ærlig talt – «sitat»", "n": 3, "nested": {"a": [1, 2]}})
    fetched = records.get("concern", added.id)
    assert fetched == added
    assert fetched.created.tzinfo is not None and fetched.created == added.created
    assert fetched.due is None and fetched.claim is None
    assert str(uuid.UUID(added.id)) == added.id


def test_get_of_unknown_malformed_or_other_kind_ids(records):
    record = add(records)
    with pytest.raises(RecordNotFound):
        records.get("agreement", record.id)
    for bad in ("00000000-0000-4000-8000-000000000000", "../../etc/passwd", "", "x" * 36, "0000",
                record.id.upper()):
        with pytest.raises(RecordNotFound):
            records.get("concern", bad)


def test_an_add_with_a_key_is_idempotent(records, open_store):
    first = add(records, "outbox", status="queued", data={"to": "a@example.org"}, key="concern:1:ack:a")
    again = open_store().add("outbox", language="en", programme=None, status="other", data={"to": "changed"},
                             key="concern:1:ack:a")
    assert first.id == again.id == key_id("outbox", "concern:1:ack:a")
    assert again == first, "the stored record comes back unchanged"
    assert records.count("outbox") == 1
    other = add(records, "outbox", status="queued", key="concern:1:ack:b")
    assert other.id != first.id and records.count("outbox") == 2


def test_concurrent_adds_with_one_key_store_one_record(open_store):
    stores = [open_store() for _ in range(4)]
    ids: list[str] = []
    barrier = threading.Barrier(4)

    def worker(store):
        barrier.wait(timeout=10)
        ids.append(add(store, "outbox", key="same").id)

    threads = [threading.Thread(target=worker, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert ids == [key_id("outbox", "same")] * 4
    assert stores[0].count("outbox") == 1


def test_update_checks_the_expected_status(records):
    record = add(records, "agreement", status="awaiting_confirmation", data={"a": 1})
    updated = records.update("agreement", record.id, status="confirmed", expect_status="awaiting_confirmation",
                             now=T0)
    assert updated.status == "confirmed" and updated.updated == T0 and updated.created == record.created
    assert records.get("agreement", record.id) == updated
    with pytest.raises(StatusConflict):
        records.update("agreement", record.id, status="expired", data={"b": 2}, expect_status="awaiting_confirmation")
    assert records.get("agreement", record.id) == updated, "nothing changed"
    both = records.update("agreement", record.id, status="expired", expect_status=("confirmed", "changes_requested"))
    assert both.status == "expired"
    with pytest.raises(RecordNotFound):
        records.update("agreement", str(uuid.uuid4()), status="x")
    with pytest.raises(RecordNotFound):
        records.update("concern", record.id, status="x")


def test_update_merges_data_and_removes_keys_set_to_none(records):
    record = add(records, data={"keep": "k", "drop": "d", "replace": {"x": 1, "y": 2}, "n": 1})
    updated = records.update("concern", record.id, data={"drop": None, "replace": {"z": 3}, "n": 2, "new": [1],
                                                         "absent": None})
    assert updated.data == {"keep": "k", "replace": {"z": 3}, "n": 2, "new": [1]}
    assert records.get("concern", record.id).data == updated.data
    assert records.update("concern", record.id).data == updated.data, "no data: nothing merged"


def test_update_sets_and_clears_the_due_time(records):
    record = add(records, due=T0)
    assert records.update("concern", record.id, status="x").due == T0, "due unchanged unless given"
    later = T0 + timedelta(hours=1)
    assert records.update("concern", record.id, due=later).due == later
    assert records.claim("concern", due_before=T0, lease=timedelta(minutes=5), limit=10, now=T0) == []
    assert [r.id for r in records.claim("concern", due_before=later, lease=timedelta(minutes=5), limit=10,
                                        now=later)] == [record.id]
    cleared = records.update("concern", record.id, due=None)
    assert cleared.due is None and records.get("concern", record.id).due is None
    assert records.claim("concern", due_before=T0 + timedelta(days=9), lease=timedelta(minutes=5), limit=10) == []


def test_an_update_with_a_claim_token_loses_to_the_worker_that_reclaimed_an_expired_lease(records, open_store):
    record = add(records, "outbox", status="queued", due=T0)
    lease = timedelta(minutes=2)
    [mine] = records.claim("outbox", due_before=T0, lease=lease, limit=5, now=T0)
    assert mine.claim and mine.due == T0 + lease
    other = open_store()
    assert other.claim("outbox", due_before=T0 + timedelta(minutes=1), lease=lease, limit=5,
                       now=T0 + timedelta(minutes=1)) == [], "the lease has not run out"
    [theirs] = other.claim("outbox", due_before=T0 + timedelta(minutes=3), lease=lease, limit=5,
                           now=T0 + timedelta(minutes=3))
    assert theirs.id == record.id and theirs.claim != mine.claim
    with pytest.raises(ClaimLost):
        records.update("outbox", record.id, status="sent", claim=mine.claim, due=None)
    assert records.get("outbox", record.id) == theirs, "the late worker changed nothing"
    done = other.update("outbox", record.id, status="sent", claim=theirs.claim, due=None)
    assert done.status == "sent" and done.claim is None and done.due is None
    with pytest.raises(ClaimLost):
        other.update("outbox", record.id, status="sent", claim=theirs.claim), "the claim was released"


def test_claim_checks_the_token_before_the_status(records):
    record = add(records, "outbox", status="queued", due=T0)
    records.claim("outbox", due_before=T0, lease=timedelta(minutes=1), limit=1, now=T0)
    with pytest.raises(ClaimLost):
        records.update("outbox", record.id, status="sent", expect_status="queued", claim="not-the-token")


def test_list_filters_orders_and_limits(records):
    for day in (3, 0, 5, 1, 4, 2):  # not in the order of creation
        add(records, "evaluation", programme="a" if day % 2 else "b", status="new" if day < 4 else "digested",
            data={"day": day}, created=T0 + timedelta(days=day, hours=1))
    add(records, "concern", programme="a")
    days = lambda found: [r.data["day"] for r in found]  # noqa: E731
    assert days(records.list("evaluation")) == [0, 1, 2, 3, 4, 5], "oldest first"
    assert days(records.list("evaluation", status="new")) == [0, 1, 2, 3]
    assert days(records.list("evaluation", status=("digested", "new"), programme="a")) == [1, 3, 5]
    assert days(records.list("evaluation", since=T0 + timedelta(days=2), until=T0 + timedelta(days=4, hours=1))) \
        == [2, 3]
    assert days(records.list("evaluation", since=T0 + timedelta(days=2, hours=1))) == [2, 3, 4, 5], "since inclusive"
    assert days(records.list("evaluation", limit=2)) == [0, 1]
    assert days(records.list("evaluation", status="new", limit=0)) == []
    assert records.list("nothing") == []


def test_records_created_at_the_same_moment_list_in_id_order(records):
    ids = [add(records, created=T0).id for _ in range(5)]
    assert [r.id for r in records.list("concern")] == sorted(ids)


def test_delete(records):
    record = add(records)
    keep = add(records)
    assert records.delete("concern", record.id) is True
    assert records.delete("concern", record.id) is False
    assert records.delete("concern", "not-an-id") is False
    assert records.delete("agreement", keep.id) is False
    with pytest.raises(RecordNotFound):
        records.get("concern", record.id)
    assert records.get("concern", keep.id) == keep


def test_purge_by_creation_time_programme_and_status(records):
    for days in range(4):
        for programme in ("a", "b", None):
            for status in ("sent", "failed", "queued"):
                add(records, "outbox", programme=programme, status=status, created=T0 + timedelta(days=days))
    add(records, "concern", created=T0)
    assert records.purge("outbox", before=T0 + timedelta(days=1), programme="a", status=("sent", "failed")) == 2
    assert records.purge("outbox", before=T0 + timedelta(days=1), programme=None) == 3
    # Queued from day 0 (a and b; None's went above) and from day 1 (a, b and None).
    assert records.purge("outbox", before=T0 + timedelta(days=2), status="queued") == 5
    left = records.list("outbox")
    assert len(left) == 36 - 2 - 3 - 5
    assert {(r.programme, r.status) for r in left if r.created < T0 + timedelta(days=1)} == {("b", "sent"),
                                                                                             ("b", "failed")}
    assert records.purge("outbox", before=T0 + timedelta(days=9)) == len(left)
    assert records.count("outbox") == 0 and records.count("concern") == 1


def test_claim_hands_out_due_records_earliest_first_up_to_the_limit(records):
    for minute in (3, 1, 2, 10):
        add(records, "outbox", status="queued", due=T0 + timedelta(minutes=minute), data={"m": minute})
    add(records, "outbox", status="sent")  # nothing to do: never claimed
    now = T0 + timedelta(minutes=5)
    first = records.claim("outbox", due_before=now, lease=timedelta(minutes=1), limit=2, now=now)
    assert [r.data["m"] for r in first] == [1, 2]
    assert all(r.claim and r.due == now + timedelta(minutes=1) and r.updated == now for r in first)
    assert records.get("outbox", first[0].id) == first[0]
    rest = records.claim("outbox", due_before=now, lease=timedelta(minutes=1), limit=10, now=now)
    assert [r.data["m"] for r in rest] == [3], "not-yet-due records stay"
    assert records.claim("outbox", due_before=now, lease=timedelta(minutes=1), limit=10, now=now) == []
    later = now + timedelta(minutes=2)
    again = records.claim("outbox", due_before=later, lease=timedelta(minutes=1), limit=10, now=later)
    assert sorted(r.data["m"] for r in again) == [1, 2, 3], "expired leases make records claimable again"
    assert [r.id for r in again] == sorted(r.id for r in again), "equal due times in id order"
    assert {r.claim for r in again}.isdisjoint({r.claim for r in first + rest})


def test_releasing_claims_makes_what_a_stopped_claimer_held_due_now(records, open_store):
    now = T0 + timedelta(minutes=5)
    for minute in (1, 2, 3):
        add(records, "outbox", status="queued", due=T0 + timedelta(minutes=minute), data={"m": minute})
    waiting = add(records, "outbox", status="queued", due=T0 + timedelta(hours=2), data={"m": 120})
    add(records, "concern", status="new", due=T0)
    held = records.claim("outbox", due_before=now, lease=timedelta(hours=1), limit=2, now=now)
    assert len(held) == 2 and records.claim("outbox", due_before=now, lease=timedelta(hours=1), limit=10,
                                            now=now) != []  # the third, now claimed as well
    later = now + timedelta(minutes=1)
    assert open_store().release_claims("outbox", now=later) == 3
    assert records.get("outbox", waiting.id) == waiting, "an unclaimed record keeps its due time"
    again = records.claim("outbox", due_before=later, lease=timedelta(hours=1), limit=10, now=later)
    assert sorted(r.data["m"] for r in again) == [1, 2, 3], "due at once, not after the lease"
    assert records.release_claims("concern", now=later) == 0, "other kinds are left alone"
    with pytest.raises(ClaimLost):
        records.update("outbox", held[0].id, claim=held[0].claim, status="sent")


def test_two_concurrent_claimers_get_each_due_record_exactly_once(open_store):
    setup = open_store()
    now = utcnow()
    expected = {add(setup, "outbox", status="queued", due=now - timedelta(seconds=n)).id for n in range(60)}
    claimers = [open_store(), open_store()]
    got: list[list[str]] = [[], []]
    barrier = threading.Barrier(2)

    def claimer(i: int):
        barrier.wait(timeout=10)
        for _ in range(100):  # bounded
            batch = claimers[i].claim("outbox", due_before=now, lease=timedelta(minutes=10), limit=3)
            if not batch:
                return
            for record in batch:
                got[i].append(record.id)
                claimers[i].update("outbox", record.id, status="sent", claim=record.claim, due=None)

    threads = [threading.Thread(target=claimer, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    both = got[0] + got[1]
    assert sorted(both) == sorted(expected), "every record claimed once, none twice"
    assert got[0] and got[1], "both claimers got work"
    assert {r.status for r in setup.list("outbox")} == {"sent"}


def test_count(records):
    assert records.count("concern") == 0
    for _ in range(3):
        add(records)
    add(records, "agreement")
    assert records.count("concern") == 3 and records.count("agreement") == 1


def test_import_records_is_idempotent_and_keeps_everything(records, open_store):
    originals = [
        Record(id=str(uuid.uuid4()), kind=kind, language="da", programme=programme, created=T0 + timedelta(hours=n),
               updated=T0 + timedelta(hours=n, minutes=5), status=status, data={"n": n, "text": "blåbær"},
               due=T0 + timedelta(days=1) if n % 2 else None, claim="abc" if n == 3 else None)
        for n, (kind, programme, status) in enumerate([("concern", "p", "new"), ("concern", None, "acknowledged"),
                                                        ("outbox", "p", "queued"), ("outbox", None, "sending"),
                                                        ("agreement", "p", "confirmed")])
    ]
    existing = add(records, "concern")
    assert records.import_records(originals + [existing]) == 5
    assert open_store().import_records(originals) == 0, "nothing doubled"
    assert records.count("concern") == 3 and records.count("outbox") == 2 and records.count("agreement") == 1
    for original in originals:
        assert records.get(original.kind, original.id) == original
    due = records.claim("outbox", due_before=T0 + timedelta(days=2), lease=timedelta(minutes=1), limit=9,
                        now=T0 + timedelta(days=2))
    assert [r.id for r in due] == [originals[3].id], "imported due times are claimable"


def test_changes_in_a_transaction_are_all_there_after_it(records):
    with records.transaction():
        record = add(records, "agreement", status="awaiting_confirmation")
        records.update("agreement", record.id, status="confirmed", expect_status="awaiting_confirmation")
        add(records, "outbox", status="queued", key=f"agreement:{record.id}:confirmed")
    assert records.get("agreement", record.id).status == "confirmed"
    assert records.count("outbox") == 1


def test_one_leader_at_a_time(records, open_store):
    mine = records.leader("scheduler")
    assert mine.try_acquire() is True and mine.held() is True
    assert mine.try_acquire() is True, "taking it again is fine"
    theirs = open_store().leader("scheduler")
    assert theirs.try_acquire() is False and theirs.held() is False
    other_name = open_store().leader("digest")
    assert other_name.try_acquire() is True, "locks of other names are separate"
    assert f"pid {os.getpid()}" in theirs.holder(), "the operator sees who holds it"
    mine.release()
    assert mine.held() is False
    assert records.leader("scheduler").holder() == "nobody"
    assert theirs.try_acquire() is True and theirs.held() is True
    assert records.leader("scheduler").try_acquire() is False
    theirs.release()
    other_name.release()
    assert other_name.holder() == "nobody"


def test_a_notify_wakes_a_waiter(records, open_store):
    woke: list[bool] = []
    waiter = threading.Thread(target=lambda: woke.append(records.wait("outbox", 10)))
    start = time.monotonic()
    waiter.start()
    notifier = open_store()
    while waiter.is_alive() and time.monotonic() - start < 10:  # until it wakes; bounded
        time.sleep(0.2)
        notifier.notify("outbox")
    waiter.join(timeout=15)
    assert woke == [True] and time.monotonic() - start < 5
    quiet = time.monotonic()
    assert records.wait("nothing_here", 0.5) is False
    assert 0.4 <= time.monotonic() - quiet < 3
