"""Benchmark of the scheduler's run when nothing is due, and how its cost grows with what is stored.

Run with `.venv/bin/python bench/minute_run.py` (after `make site translations`). For each size
it fills an instance folder with that many records of every kind the run looks at (concern
reports, agreements, evaluations, page ratings and sent emails), in the states a live deployment
has them: read reports waiting for their retention period, confirmed agreements waiting for
their next follow-up, sent mail. Nothing is due. It then times ``scheduler.run_due`` (the whole
run: every area's due records, then the outbox) and prints the median and the ratio between the
sizes, measured side by side in one run. Target: the largest size <= 1.5 x the smallest.

Every loop is bounded in count.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from forms_service import create_app, scheduler  # noqa: E402
from forms_service.storage import Record  # noqa: E402
from forms_service.storage.tinydb import TinyDBStore  # noqa: E402

SECRET = "benchmark-secret-key-0123456789abcdef0123456789"
WORK = ROOT / "bench" / ".work"


def records(count: int, now: datetime) -> list[Record]:
    """``count`` records of each kind, none of them due before ``now`` + 1 day."""
    later = now + timedelta(days=30)
    made = []
    for n in range(count):
        for kind, status, due, data in (
            ("concern", "acknowledged", later, {"acknowledged_at": now.isoformat(), "reporter_told_at": "x"}),
            ("agreement", "confirmed", later, {"copies_sent_at": "x"}),
            ("evaluation", "new", None, {"relationship": 5}),
            ("page_feedback", "new", None, {"page": "/", "rating": 1}),
            ("outbox", "sent", None, {"purpose": "concern_report", "attempts": 1}),
        ):
            made.append(Record(id=str(uuid.uuid4()), kind=kind, language="nb", programme="example",
                               created=now - timedelta(days=1), updated=now, status=status,
                               data={**data, "n": n}, due=due))
    return made


def time_runs(app, rounds: int) -> list[float]:
    timings = []
    with scheduler.job_context(app):
        for _ in range(rounds):
            started = time.perf_counter()
            scheduler.run_due()
            timings.append(time.perf_counter() - started)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 50000])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    now = datetime.now(timezone.utc)
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        apps = {}
        for size in args.sizes:
            instance = Path(tmp) / str(size)
            app = create_app({"TESTING": True, "SECRET_KEY": SECRET, "INSTANCE_PATH": str(instance),
                              "SITE_DIR": str(ROOT / "site")})
            started = time.perf_counter()
            TinyDBStore(instance / "data").import_records(records(size, now))
            print(f"stored {size:,} records of each of 5 kinds in {time.perf_counter() - started:.1f} s")
            apps[size] = app
        medians: dict[int, list[float]] = {size: [] for size in args.sizes}
        # Side by side: the sizes take turns, so a noisy moment hits them alike.
        for _ in range(args.rounds):
            for size, app in apps.items():
                medians[size].extend(time_runs(app, 1))
        print("\nscheduler run with nothing due (median of", args.rounds, "runs each)")
        for size in args.sizes:
            print(f"  {size:>7,} of each kind: {statistics.median(medians[size]) * 1000:8.2f} ms"
                  f"  (min {min(medians[size]) * 1000:.2f}, max {max(medians[size]) * 1000:.2f})")
        small, large = args.sizes[0], args.sizes[-1]
        ratio = statistics.median(medians[large]) / statistics.median(medians[small])
        print(f"  {large:,} / {small:,} = {ratio:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
