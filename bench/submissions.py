"""Benchmark of submissions: the service under gunicorn, and the storage module against SQLite.

Run with `.venv/bin/python bench/submissions.py` (after `make site translations`). It prints:

* the time of one ``Store.add`` with 1,000 and with 50,000 records already stored, measured in
  the same run as an insert of the same record into SQLite (WAL, synchronous=FULL) as the
  reference; targets: cost at 50,000 <= 1.5 x cost at 1,000, and add <= 3 x the SQLite insert;
* throughput and p50 / p95 / p99 latency of valid concern reports posted by concurrent clients
  (each with its own session and CSRF token) to gunicorn with 2 workers on 127.0.0.1, with 0,
  10,000 and 50,000 records already stored; target: p95 <= 50 ms at 10,000.

With ``--database-url postgresql://...`` (a database the benchmark may empty: its records are
deleted) or ``--postgres`` (a throwaway server started for the run, durable settings), the same
run also measures PostgreSQL beside TinyDB:

* the posts spread over two gunicorn instances (2 workers each, rate limits shared in one
  Redis) with 0, 10,000 and 100,000 records stored, for both backends (TinyDB: both instances on
  one instance folder; PostgreSQL: each its own instance folder, one database); target: p95 <=
  50 ms at 100,000. Twice, each post after loading its form: the clients as fast as they can
  (throughput; on a small machine the latency is then mostly waiting for a core), then at a
  steady rate (``--rate``, 20 reports/s in all by default: far above what a programme sees);
* the minute run's cost (``scheduler.run_due`` with nothing due) with 1,000 and 100,000 records
  stored; target: flat, cost at 100,000 <= 1.5 x cost at 1,000.

Every loop is bounded in count and in time.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the throwaway PostgreSQL and Redis servers the tests use

from forms_service.programmes import SAMPLE  # noqa: E402
from forms_service.storage import Record  # noqa: E402
from forms_service.storage.tinydb import TinyDBStore as Store  # noqa: E402

KINDS = ("agreement", "concern", "evaluation", "page_feedback", "outbox", "digest_state")

REPORT = {
    "programme": "example",
    "concerns": "bullying",
    "urgency": "soon",
    "observed": "On Tuesday two colleagues laughed at the mentee's accent in the lunch room. " * 8,
    "actions": "I talked with the mentee after lunch and we agreed to tell the contact person.",
    "mentee_knows": "yes",
    "reporter_name": "Ola Nordmann",
    "reporter_email": "ola@example.org",
    "reporter_phone": "+47 900 00 000", "mentee_name": "Ali Mentee", "workplace": "The warehouse",
}
SECRET = "benchmark-secret-key-0123456789abcdef0123456789"
# Data goes where a deployment's instance folder would be, on the project's disk: /tmp can be
# slower at creating and renaming files, which would not measure what a deployment gets.
WORK = ROOT / "bench" / ".work"


def stored_record(n: int) -> Record:
    now = datetime.now(timezone.utc)
    data = {k: v for k, v in REPORT.items() if k != "programme"} | {"n": n}
    return Record(id=str(uuid.uuid4()), kind="concern", language="nb", programme="example", created=now,
                  updated=now, status="new", data=data)


def fill(store: Store, count: int) -> None:
    store.import_records([stored_record(n) for n in range(count)])


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# -- the storage module against SQLite ------------------------------------------------------------

def time_adds(store: Store, rounds: int) -> list[float]:
    data = {k: v for k, v in REPORT.items() if k != "programme"}
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        store.add("concern", language="nb", programme="example", status="new", data=data)
        times.append(time.perf_counter() - start)
    return times


def time_sqlite(path: Path, rounds: int) -> list[float]:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS records (id TEXT PRIMARY KEY, kind TEXT, language TEXT, programme TEXT,"
                " created TEXT, updated TEXT, status TEXT, data TEXT)")
    import json

    times = []
    for _ in range(rounds):
        record = stored_record(0).to_json()
        start = time.perf_counter()
        db.execute("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (record["id"], record["kind"], record["language"], record["programme"], record["created"],
                    record["updated"], record["status"], json.dumps(record["data"])))
        times.append(time.perf_counter() - start)
    db.close()
    return times


def storage_benchmark(rounds: int) -> None:
    WORK.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        small, large = Store(Path(tmp) / "small"), Store(Path(tmp) / "large")
        fill(small, 1_000)
        fill(large, 50_000)
        results = {"1,000 stored": [], "50,000 stored": [], "SQLite": []}
        # Interleaved, so that the machine's mood affects all three alike.
        for _ in range(5):
            results["1,000 stored"] += time_adds(small, rounds // 5)
            results["50,000 stored"] += time_adds(large, rounds // 5)
            results["SQLite"] += time_sqlite(Path(tmp) / "reference.db", rounds // 5)
    medians = {name: statistics.median(times) * 1000 for name, times in results.items()}
    print(f"storage add, median of {rounds} (ms):")
    for name, value in medians.items():
        print(f"  {name:16} {value:6.2f} ms   p95 {percentile(results[name], 95) * 1000:6.2f} ms")
    print(f"  cost at 50,000 / cost at 1,000 = {medians['50,000 stored'] / medians['1,000 stored']:.2f}"
          "   (target <= 1.5)")
    print(f"  add at 50,000 / SQLite insert  = {medians['50,000 stored'] / medians['SQLite']:.2f}"
          "   (target <= 3)")


# -- the service under load ---------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(instance: Path, port: int, database_url: str = "", redis_url: str = "") -> subprocess.Popen:
    env = {**os.environ, "FORMS_SECRET_KEY": SECRET, "FORMS_INSTANCE_PATH": str(instance),
           "FORMS_FORM_RATE_LIMIT": "100000 per minute", "FORMS_SERVICE_RATE_LIMIT": "100000 per minute",
           "FORMS_DATABASE_URL": database_url}
    if redis_url:
        env["FORMS_RATELIMIT_STORAGE_URI"] = redis_url
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}", "--log-level",
         "warning", "forms_service:create_app()"], cwd=ROOT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("gunicorn did not start")


def client(port: int, count: int, latencies: list[float], errors: list[str], stop_at: float,
           form_once: bool = False, every: float = 0.0) -> None:
    """One person: a session of their own, a form, then ``count`` reports in a row (each after
    loading the form again, unless ``form_once``: then the load is the posts alone). With
    ``every``, a report starts every that many seconds (a steady rate) instead of at once."""
    cookie = token = ""
    began = time.monotonic() + (random.random() * every)
    for n in range(count):
        if every:
            time.sleep(max(0.0, began + n * every - time.monotonic()))
        if time.monotonic() > stop_at:
            return
        if not (form_once and token):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("GET", "/forms/concern/", headers={"Cookie": cookie})
            response = connection.getresponse()
            page = response.read().decode()
            cookie = (response.getheader("Set-Cookie") or cookie).split(";")[0]
            token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
            connection.close()
        body = urlencode({**REPORT, "csrf_token": token})
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        start = time.perf_counter()
        connection.request("POST", "/forms/concern/", body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
        response = connection.getresponse()
        response.read()
        latencies.append(time.perf_counter() - start)
        if response.status != 303:
            errors.append(str(response.status))
        connection.close()


def run_clients(ports: list[int], clients: int, per_client: int, time_limit: float, form_once: bool = False,
                every: float = 0.0) -> tuple[list[float], list[str], float]:
    """``clients`` people posting at once, spread over ``ports``: POST latencies, errors, seconds."""
    latencies: list[float] = []
    errors: list[str] = []
    stop_at = time.monotonic() + time_limit
    threads = [threading.Thread(target=client, args=(ports[i % len(ports)], per_client, latencies, errors, stop_at,
                                                     form_once, every)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=time_limit + 30)
    return latencies, errors, time.perf_counter() - started


def load_benchmark(clients: int, per_client: int, levels: list[int], time_limit: float) -> None:
    print(f"\nsubmissions to gunicorn (2 workers), {clients} concurrent clients x {per_client} reports:")
    for stored in levels:
        with tempfile.TemporaryDirectory(dir=WORK) as tmp:
            instance = Path(tmp) / "instance"
            instance.mkdir()
            (instance / "programmes.toml").write_text(SAMPLE, encoding="utf-8")
            fill(Store(instance / "data"), stored)
            port = free_port()
            server = start_gunicorn(instance, port)
            try:
                latencies, errors, elapsed = run_clients([port], clients, per_client, time_limit)
                after = Store(instance / "data").count("concern")
            finally:
                server.send_signal(signal.SIGTERM)
                server.wait(timeout=30)
        ms = [t * 1000 for t in latencies]
        print(f"  {stored:>6,} stored: {len(ms)} posts, {len(ms) / elapsed:6.1f} posts/s (GET+POST cycles), "
              f"p50 {percentile(ms, 50):5.1f} ms, p95 {percentile(ms, 95):5.1f} ms, p99 {percentile(ms, 99):5.1f} ms"
              f", errors {len(errors)}, stored after {after - stored}")


# -- TinyDB beside PostgreSQL ----------------------------------------------------------------------

class Backend:
    """A backend to fill and load: TinyDB in an instance folder, or one PostgreSQL database."""

    def __init__(self, name: str, database_url: str = ""):
        self.name = name
        self.database_url = database_url

    def open(self, instance: Path):
        if self.database_url:
            from forms_service.storage.postgres import PostgresStore

            return PostgresStore(self.database_url)
        return Store(instance / "data")

    def empty(self) -> None:
        if self.database_url:
            import psycopg

            with psycopg.connect(self.database_url, autocommit=True) as conn:
                conn.execute("TRUNCATE records")

    def fill(self, instance: Path, count: int, kinds: tuple[str, ...] = ("concern",)) -> None:
        self.empty()
        store = self.open(instance)
        for start in range(0, count, 10_000):
            store.import_records([stored_record(n).but(kind=kinds[n % len(kinds)])
                                  for n in range(start, min(count, start + 10_000))])
        if self.database_url:
            import psycopg

            with psycopg.connect(self.database_url, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE records")
                conn.execute("CHECKPOINT")
        store.close()
        # What the fill wrote goes to disk now, not during the measurement that follows.
        os.sync()


def spread_load(backends: list[Backend], clients: int, per_client: int, levels: list[int],
                time_limit: float, form_once: bool = False, rate: float = 0.0) -> None:
    shape = "the form loaded once per client" if form_once else "each after loading the form"
    if rate:
        shape += f", at a steady {rate:g} reports/s in all"
    print(f"\nsubmissions spread over two gunicorn instances (2 workers each, rate limits in one Redis), "
          f"{clients} concurrent clients x {per_client} reports, {shape}:")
    from redis_server import start_redis

    with tempfile.TemporaryDirectory(dir=WORK) as folder:
        redis, redis_url = start_redis(Path(folder))
        try:
            _spread_levels(backends, clients, per_client, levels, time_limit, redis_url, form_once,
                           clients / rate if rate else 0.0)
        finally:
            redis.terminate()
            redis.wait(timeout=10)


def _spread_levels(backends: list[Backend], clients: int, per_client: int, levels: list[int], time_limit: float,
                   redis_url: str, form_once: bool, every: float) -> None:
    for stored in levels:
        for backend in backends:
            with tempfile.TemporaryDirectory(dir=WORK) as tmp:
                # Two machines: with TinyDB they can only share one instance folder (one machine).
                instances = [Path(tmp) / "instance"] * 2 if not backend.database_url else \
                    [Path(tmp) / "machine1", Path(tmp) / "machine2"]
                for instance in instances:
                    instance.mkdir(exist_ok=True)
                    (instance / "programmes.toml").write_text(SAMPLE, encoding="utf-8")
                filled = time.perf_counter()
                backend.fill(instances[0], stored)
                filled = time.perf_counter() - filled
                ports = [free_port(), free_port()]
                servers = [start_gunicorn(instance, port, backend.database_url, redis_url)
                           for instance, port in zip(instances, ports)]
                try:
                    latencies, errors, elapsed = run_clients(ports, clients, per_client, time_limit, form_once,
                                                             every)
                    store = backend.open(instances[0])
                    after = store.count("concern")
                    store.close()
                finally:
                    for server in servers:
                        server.send_signal(signal.SIGTERM)
                    for server in servers:
                        server.wait(timeout=30)
            ms = [t * 1000 for t in latencies]
            print(f"  {backend.name:10} {stored:>7,} stored: {len(ms)} posts, {len(ms) / elapsed:6.1f} posts/s, "
                  f"p50 {percentile(ms, 50):5.1f} ms, p95 {percentile(ms, 95):5.1f} ms, "
                  f"p99 {percentile(ms, 99):5.1f} ms, errors {len(errors)}, stored after {after - stored}"
                  f" (filled in {filled:.0f} s)")


def minute_run_cost(backends: list[Backend], levels: list[int], rounds: int) -> None:
    """What the scheduler's run (``scheduler.run_due``) costs when nothing is due."""
    from forms_service import create_app, scheduler

    print(f"\nminute run (scheduler.run_due, nothing due, records of {len(KINDS)} kinds stored), median of {rounds}:")
    for backend in backends:
        medians = {}
        for stored in levels:
            with tempfile.TemporaryDirectory(dir=WORK) as tmp:
                instance = Path(tmp) / "instance"
                backend.fill(instance, stored, KINDS)
                app = create_app({"TESTING": True, "SECRET_KEY": SECRET, "INSTANCE_PATH": str(instance),
                                  "SITE_DIR": str(ROOT / "site"), "DATABASE_URL": backend.database_url})
                times = []
                with scheduler.job_context(app):
                    for _ in range(rounds):
                        start = time.perf_counter()
                        scheduler.run_due()
                        times.append(time.perf_counter() - start)
                app.extensions["store"].close()
            medians[stored] = statistics.median(times) * 1000
            print(f"  {backend.name:10} {stored:>7,} stored: {medians[stored]:7.2f} ms   "
                  f"p95 {percentile(times, 95) * 1000:7.2f} ms")
        low, high = min(levels), max(levels)
        print(f"  {backend.name:10} cost at {high:,} / cost at {low:,} = {medians[high] / medians[low]:.2f}"
              "   (target <= 1.5)")


def postgres_adds(database_url: str, rounds: int) -> None:
    """Store.add into PostgreSQL with 1,000 and 50,000 stored, for the storage table."""
    backend = Backend("PostgreSQL", database_url)
    results = {}
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        for stored in (1_000, 50_000):
            backend.fill(Path(tmp), stored)
            store = backend.open(Path(tmp))
            results[stored] = time_adds(store, rounds)
            store.close()
    for stored, times in results.items():
        print(f"  PostgreSQL {stored:>6,} stored {statistics.median(times) * 1000:6.2f} ms   "
              f"p95 {percentile(times, 95) * 1000:6.2f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200, help="adds timed per store size")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--per-client", type=int, default=50)
    parser.add_argument("--levels", type=int, nargs="*", default=[0, 10_000, 50_000])
    parser.add_argument("--time-limit", type=float, default=120, help="seconds per load level at most")
    parser.add_argument("--storage-only", action="store_true", help="skip the load on gunicorn")
    parser.add_argument("--database-url", default="",
                        help="also measure PostgreSQL in this database (its records are deleted)")
    parser.add_argument("--postgres", action="store_true",
                        help="also measure PostgreSQL, on a throwaway server started for the run")
    parser.add_argument("--spread-levels", type=int, nargs="*", default=[0, 10_000, 100_000],
                        help="records stored for the two-instance runs")
    parser.add_argument("--minute-levels", type=int, nargs="*", default=[1_000, 100_000])
    parser.add_argument("--minute-rounds", type=int, default=50)
    parser.add_argument("--minute-only", action="store_true", help="only the minute run, for both backends")
    parser.add_argument("--spread-only", action="store_true",
                        help="only the posts over two instances, for both backends")
    parser.add_argument("--rate", type=float, default=20.0,
                        help="reports per second in all for the steady-rate run over two instances")
    parser.add_argument("--form-once", action="store_true",
                        help="in the posts over two instances, each client loads the form once "
                             "(the load is posts alone)")
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}")
    WORK.mkdir(exist_ok=True)
    server = None
    database_url = args.database_url
    if args.postgres and not database_url:
        from postgres_server import PostgresServer

        server = PostgresServer(durable=True).start()
        database_url = server.url()
    try:
        if database_url:
            from forms_service.storage.postgres import upgrade

            upgrade(database_url)
        backends = [Backend("TinyDB")] + ([Backend("PostgreSQL", database_url)] if database_url else [])
        if args.minute_only:
            minute_run_cost(backends, args.minute_levels, args.minute_rounds)
            return 0
        if args.spread_only:
            spread = (backends, args.clients, args.per_client, args.spread_levels, args.time_limit)
            spread_load(*spread, form_once=args.form_once)
            spread_load(*spread, rate=args.rate)
            return 0
        storage_benchmark(args.rounds)
        if database_url:
            postgres_adds(database_url, args.rounds)
        if not args.storage_only:
            if database_url:
                spread = (backends, args.clients, args.per_client, args.spread_levels, args.time_limit)
                spread_load(*spread)
                spread_load(*spread, rate=args.rate)
                minute_run_cost(backends, args.minute_levels, args.minute_rounds)
            else:
                load_benchmark(args.clients, args.per_client, args.levels, args.time_limit)
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
