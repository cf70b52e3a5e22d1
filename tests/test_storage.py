"""The storage module: its interface, its file layout, and its safety under threads."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from forms_service.storage import Record, RecordNotFound, StatusConflict, Store
from forms_service.storage.tinydb import BUCKET_DIGITS, TinyDBStore


@pytest.fixture
def records(tmp_path) -> Store:
    return TinyDBStore(tmp_path / "data")


def test_add_then_get_returns_the_same_record(records):
    added = records.add("concern", language="en", programme="example", status="new", data={"observed": "Ærlig talt"})
    fetched = records.get("concern", added.id)
    assert fetched == added
    assert fetched.created.tzinfo is not None and fetched.data == {"observed": "Ærlig talt"}
    assert len(added.id) == 36 and added.id[14] == "4"  # a uuid4


def test_a_record_lives_in_one_small_bucket_named_by_its_id(records, tmp_path):
    record = records.add("agreement", language="nb", programme=None, status="x", data={})
    bucket = tmp_path / "data" / "agreement" / f"{record.id[:BUCKET_DIGITS]}.json"
    stored = json.loads(bucket.read_bytes().rstrip(b"\0").splitlines()[0])
    assert stored["records"][record.id]["status"] == "x"


def test_a_write_cut_short_is_ignored_and_covered_by_the_next(records, tmp_path):
    """A crash in the middle of a write leaves part of a line in the bucket's room: reading
    ignores it (it was never acknowledged), and the next write goes over it."""
    kept = records.add("concern", language="nb", programme=None, status="new", data={"n": 1})
    bucket = tmp_path / "data" / "concern" / f"{kept.id[:BUCKET_DIGITS]}.json"
    raw = bucket.read_bytes()
    used = len(raw.rstrip(b"\0"))
    torn = b'{"put":{"' + kept.id.encode() + b'":{"status":"torn'
    bucket.write_bytes(raw[:used] + torn + raw[used + len(torn):])
    assert records.get("concern", kept.id).status == "new"
    records.update("concern", kept.id, status="seen")
    assert records.get("concern", kept.id).status == "seen"
    assert b"torn" not in bucket.read_bytes()
    for line in bucket.read_bytes().rstrip(b"\0").splitlines():
        json.loads(line)


def test_a_bucket_from_an_earlier_version_is_read_and_written(records, tmp_path):
    record = records.add("concern", language="nb", programme=None, status="new", data={})
    bucket = tmp_path / "data" / "concern" / f"{record.id[:BUCKET_DIGITS]}.json"
    whole = json.loads(bucket.read_bytes().rstrip(b"\0").splitlines()[0])
    bucket.write_text(json.dumps(whole), encoding="utf-8")  # one JSON document, no newline
    assert records.get("concern", record.id).status == "new"
    records.update("concern", record.id, status="seen")
    assert records.get("concern", record.id).status == "seen"


def test_get_of_unknown_or_malformed_ids(records):
    records.add("concern", language="nb", programme=None, status="new", data={})
    with pytest.raises(RecordNotFound):
        records.get("concern", "00000000-0000-4000-8000-000000000000")
    for bad in ("../../etc/passwd", "", "x" * 36, "0000"):
        with pytest.raises(RecordNotFound):
            records.get("concern", bad)


def test_update_merges_data_and_checks_the_expected_status(records):
    record = records.add("agreement", language="nb", programme="p", status="awaiting", data={"a": 1})
    updated = records.update("agreement", record.id, status="confirmed", data={"b": 2}, expect_status="awaiting")
    assert updated.status == "confirmed" and updated.data == {"a": 1, "b": 2}
    assert records.get("agreement", record.id) == updated
    with pytest.raises(StatusConflict):
        records.update("agreement", record.id, status="expired", expect_status="awaiting")
    assert records.get("agreement", record.id).status == "confirmed"


def test_list_filters_by_status_programme_and_time(records):
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for day in range(6):
        records.add("evaluation", language="da", programme="a" if day % 2 else "b",
                    status="new" if day < 4 else "digested", data={"day": day},
                    created=start + timedelta(days=day))
    records.add("concern", language="nb", programme="a", status="new", data={})
    assert [r.data["day"] for r in records.list("evaluation")] == [0, 1, 2, 3, 4, 5]
    assert [r.data["day"] for r in records.list("evaluation", status="new")] == [0, 1, 2, 3]
    assert [r.data["day"] for r in records.list("evaluation", programme="a")] == [1, 3, 5]
    window = records.list("evaluation", since=start + timedelta(days=2), until=start + timedelta(days=4))
    assert [r.data["day"] for r in window] == [2, 3]
    assert records.count("evaluation") == 6


def test_delete(records):
    record = records.add("concern", language="nb", programme=None, status="new", data={})
    assert records.delete("concern", record.id) is True
    assert records.delete("concern", record.id) is False
    with pytest.raises(RecordNotFound):
        records.get("concern", record.id)


def test_writes_leave_no_temporary_files(records, tmp_path):
    for _ in range(20):
        records.add("concern", language="nb", programme=None, status="new", data={})
    leftovers = [p.name for p in (tmp_path / "data" / "concern").iterdir() if p.suffix == ".tmp"]
    assert leftovers == []


def test_concurrent_threads_lose_nothing(records):
    """Threads adding to the same buckets at once: every record is there, every update applied."""
    ids: list[str] = []
    lock = threading.Lock()

    def worker():
        for _ in range(25):
            record = records.add("concern", language="nb", programme=None, status="new", data={"n": 0})
            records.update("concern", record.id, data={"n": 1})
            with lock:
                ids.append(record.id)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(ids) == 200
    stored = records.list("concern")
    assert sorted(r.id for r in stored) == sorted(ids)
    assert all(r.data["n"] == 1 for r in stored)


def test_status_claims_are_exclusive(records):
    """Of many threads claiming the same record, exactly one wins."""
    record = records.add("outbox", language="nb", programme=None, status="queued", data={})
    winners = []

    def claim():
        try:
            records.update("outbox", record.id, status="sending", expect_status="queued")
            winners.append(1)
        except StatusConflict:
            pass

    threads = [threading.Thread(target=claim) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(winners) == 1


def test_kind_names_are_checked(records):
    with pytest.raises(ValueError):
        records.add("../escape", language="nb", programme=None, status="new", data={})


def test_import_records_writes_each_bucket_once_and_keeps_what_was_there(records):
    existing = records.add("concern", language="nb", programme=None, status="new", data={})
    now = datetime.now(timezone.utc)
    imported = [Record(id=str(uuid.uuid4()), kind="concern", language="en", programme="p", created=now,
                       updated=now, status="new", data={"n": n}) for n in range(300)]
    records.import_records(imported)
    assert records.count("concern") == 301
    assert records.get("concern", imported[123].id).data == {"n": 123}
    assert records.get("concern", existing.id) == existing


def test_every_change_to_records_sharing_a_bucket_reaches_the_file(records, tmp_path):
    """A bucket's records are handed to TinyDB as shallow copies: each update, nested data
    included, must still be written as a change, and the records beside it stay as they were."""
    now = datetime(2026, 11, 22, tzinfo=timezone.utc)
    ids = [f"abc{n:05x}-0000-4000-8000-000000000000" for n in range(3)]
    records.import_records([Record(id=i, kind="concern", language="nb", programme=None, created=now, updated=now,
                                   status="new", data={"nested": {"n": n}, "list": [n]}) for n, i in enumerate(ids)])
    records.update("concern", ids[0], status="notified", data={"nested": {"n": 10}})
    records.update("concern", ids[0], data={"list": None, "extra": "x"}, due=now + timedelta(days=1))
    records.update("concern", ids[1], expect_status="new", status="read")
    fresh = TinyDBStore(tmp_path / "data")  # reads the file, not anything kept in memory
    first, second, third = (fresh.get("concern", i) for i in ids)
    assert (first.status, first.data, first.due) == ("notified", {"nested": {"n": 10}, "extra": "x"},
                                                     now + timedelta(days=1))
    assert (second.status, second.data) == ("read", {"nested": {"n": 1}, "list": [1]})
    assert (third.status, third.data) == ("new", {"nested": {"n": 2}, "list": [2]})
    assert len(list((tmp_path / "data" / "concern").glob("abc*.json"))) == 1, "the three share one bucket"
