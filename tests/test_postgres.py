"""The PostgreSQL backend beyond the shared contract: its schema and commands, start-up checks,
transactions, a server that goes away, the leader lock across processes, moving a TinyDB
deployment over, and two app servers writing to one database.

Every test runs against a real PostgreSQL started by the ``postgres_server`` fixture.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import psycopg
import pytest
from conftest import ROOT, SECRET, csrf_token, free_port
from test_forms import AGREEMENT, CONCERN, EVALUATION

from forms_service import create_app
from forms_service.programmes import SAMPLE
from forms_service.settings import ConfigError
from forms_service.storage import StatusConflict, utcnow
from forms_service.storage.postgres import SCHEMA_VERSION, PostgresStore, schema_version, upgrade
from forms_service.storage.tinydb import TinyDBStore


def instance_folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "programmes.toml").write_text(SAMPLE, encoding="utf-8")
    return path


def service_env(built_site: Path, instance: Path, database_url: str) -> dict[str, str]:
    """The environment of a production process of the service (no debug, no test settings)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FORMS_", "FLASK_"))}
    return {**env, "FORMS_SECRET_KEY": SECRET, "FORMS_SITE_DIR": str(built_site),
            "FORMS_INSTANCE_PATH": str(instance), "FORMS_DATABASE_URL": database_url,
            "FORMS_FORM_RATE_LIMIT": "100000 per minute"}


def flask_command(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flask", "--app", "forms_service", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def pg_app(built_site, tmp_path, database_url):
    """The service on PostgreSQL (a fresh database), mail to files."""
    app = create_app({"TESTING": True, "SECRET_KEY": SECRET, "SITE_DIR": str(built_site),
                      "INSTANCE_PATH": str(tmp_path / "instance"), "FORM_RATE_LIMIT": "1000 per minute",
                      "DATABASE_URL": database_url})
    yield app
    app.extensions["store"].close()


# -- the schema -------------------------------------------------------------------------------------

def test_upgrade_makes_the_schema_once_even_from_several_machines_at_once(empty_database_url):
    results: list[tuple[int, int]] = []
    barrier = threading.Barrier(4)

    def migrate():
        barrier.wait(timeout=10)
        results.append(upgrade(empty_database_url))

    threads = [threading.Thread(target=migrate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == [(0, SCHEMA_VERSION)] + [(SCHEMA_VERSION, SCHEMA_VERSION)] * 3
    with psycopg.connect(empty_database_url) as conn:
        assert schema_version(conn) == SCHEMA_VERSION
        assert conn.execute("SELECT count(*) FROM schema_version").fetchone()[0] == SCHEMA_VERSION
        indexes = dict(conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'records'"))
    assert {"records_kind_created", "records_kind_due", "records_kind_status", "records_kind_programme"} <= set(indexes)
    assert "WHERE (due IS NOT NULL)" in indexes["records_kind_due"]


def test_a_minute_run_reads_only_what_is_due(database_url):
    """With 20,000 records of which 10 are due, the claim uses the partial due index."""
    store = PostgresStore(database_url)
    now = utcnow()
    store.import_records([
        store_record(kind="outbox", status="sent", due=None) for _ in range(20_000)
    ] + [store_record(kind="outbox", status="queued", due=now - timedelta(seconds=n)) for n in range(10)])
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("ANALYZE records")
        plan = "\n".join(row[0] for row in conn.execute(
            "EXPLAIN SELECT id FROM records WHERE kind = 'outbox' AND due IS NOT NULL AND due <= now()"
            " ORDER BY due, id LIMIT 100 FOR UPDATE SKIP LOCKED"))
    assert "records_kind_due" in plan, plan
    assert len(store.claim("outbox", due_before=now, lease=timedelta(minutes=1), limit=100)) == 10
    store.close()


def store_record(*, kind: str, status: str, due=None):
    from forms_service.storage import Record

    now = utcnow()
    return Record(id=str(uuid.uuid4()), kind=kind, language="nb", programme="example", created=now, updated=now,
                  status=status, data={"n": 1}, due=due)


def test_db_upgrade_and_check_config_from_the_command_line(built_site, tmp_path, empty_database_url):
    env = service_env(built_site, instance_folder(tmp_path / "instance"), empty_database_url)
    refused = flask_command(env, "check-config")
    assert refused.returncode != 0
    assert "has no schema: run `flask --app forms_service db upgrade`" in refused.stderr
    first = flask_command(env, "db", "upgrade")
    assert first.returncode == 0, first.stderr
    assert f"upgraded from version 0 to {SCHEMA_VERSION}" in first.stdout
    again = flask_command(env, "db", "upgrade")
    assert again.returncode == 0 and f"already at version {SCHEMA_VERSION}: nothing to do" in again.stdout
    checked = flask_command(env, "check-config")
    assert checked.returncode == 0, checked.stderr
    assert re.search(rf"Storage: PostgreSQL 1\d\.\d+ .*at postgres@127\.0\.0\.1:\d+/test_\w+, schema version "
                     rf"{SCHEMA_VERSION}", checked.stdout), checked.stdout
    assert "Configuration OK" in checked.stdout


def test_the_app_refuses_to_start_on_a_wrong_url_or_a_missing_schema(built_site, tmp_path, empty_database_url):
    config = {"TESTING": True, "SECRET_KEY": SECRET, "SITE_DIR": str(built_site),
              "INSTANCE_PATH": str(tmp_path / "instance")}
    with pytest.raises(ConfigError, match="FORMS_DATABASE_URL must be a PostgreSQL URL"):
        create_app({**config, "DATABASE_URL": "sqlite:///forms.db"})
    with pytest.raises(ConfigError, match=r"has no schema: run `flask --app forms_service db upgrade`"):
        create_app({**config, "DATABASE_URL": empty_database_url})
    nobody = f"postgresql://forms:secret-password@127.0.0.1:{free_port()}/forms"
    with pytest.raises(ConfigError, match="database unavailable") as refused:
        create_app({**config, "DATABASE_URL": nobody})
    assert "secret-password" not in str(refused.value)
    upgrade(empty_database_url)
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_version (version) VALUES (%s)", [SCHEMA_VERSION + 1])
    with pytest.raises(ConfigError, match="newer than this version of the service knows"):
        create_app({**config, "DATABASE_URL": empty_database_url})


def test_check_config_fails_when_the_schema_is_behind(pg_app, database_url):
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM schema_version")
    result = pg_app.test_cli_runner().invoke(args=["check-config"])
    assert result.exit_code == 1
    assert "Storage check: FAILED" in result.output and "db upgrade" in result.output


# -- transactions ------------------------------------------------------------------------------------

def test_a_failed_transaction_leaves_nothing(database_url):
    store = PostgresStore(database_url)
    record = store.add("agreement", language="nb", programme="p", status="awaiting_confirmation", data={})
    with pytest.raises(RuntimeError, match="mail could not be rendered"):
        with store.transaction():
            store.update("agreement", record.id, status="confirmed", expect_status="awaiting_confirmation")
            store.add("outbox", language="nb", programme="p", status="queued", data={}, key="confirmed")
            raise RuntimeError("mail could not be rendered")
    assert store.get("agreement", record.id).status == "awaiting_confirmation"
    assert store.count("outbox") == 0
    store.close()


def test_a_conflict_inside_a_transaction_undoes_only_that_call(database_url):
    store = PostgresStore(database_url)
    record = store.add("concern", language="nb", programme="p", status="new", data={})
    with store.transaction():
        store.add("outbox", language="nb", programme="p", status="queued", data={}, key="a")
        with pytest.raises(StatusConflict):
            store.update("concern", record.id, status="x", expect_status="notified")
        store.update("concern", record.id, status="notified", expect_status="new")
        # Other connections do not see the changes before the commit.
        with psycopg.connect(database_url) as other:
            assert other.execute("SELECT count(*) FROM records WHERE kind = 'outbox'").fetchone()[0] == 0
    assert store.get("concern", record.id).status == "notified" and store.count("outbox") == 1
    store.close()


def test_a_notify_inside_a_transaction_wakes_the_waiter_only_when_it_commits(database_url):
    waiter, notifier = PostgresStore(database_url), PostgresStore(database_url)
    assert waiter.wait("outbox", 0.1) is False  # listening from now on
    with notifier.transaction():
        notifier.notify("outbox")
        assert waiter.wait("outbox", 0.5) is False, "not before the commit"
    assert waiter.wait("outbox", 5) is True
    waiter.close()
    notifier.close()


# -- a server that goes away -------------------------------------------------------------------------

def test_a_lost_database_gives_the_503_page_and_no_content_in_the_log(pg_app, postgres_server, database_url,
                                                                     caplog):
    from conftest import drop_database

    client = pg_app.test_client()
    token = csrf_token(client, "/en/forms/concern/")
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json["storage"] == {"backend": "PostgresStore", "problems": 0}
    drop_database(postgres_server, database_url)  # every connection goes, and the database with them
    assert client.get("/healthz").status_code == 503
    response = client.post("/en/forms/concern/", data={**CONCERN, "csrf_token": token})
    assert response.status_code == 503
    assert "The service cannot save right now" in response.get_data(as_text=True)
    assert CONCERN["observed"] not in caplog.text and CONCERN["reporter_email"] not in caplog.text


# -- the leader -----------------------------------------------------------------------------------------

HOLDER = """
import sys, time
from forms_service.storage.postgres import PostgresStore
leader = PostgresStore(sys.argv[1]).leader("scheduler")
assert leader.try_acquire()
print("held", flush=True)
time.sleep(120)
"""


def test_the_leader_lock_is_freed_at_once_when_its_holder_dies(database_url):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, database_url], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        standby = PostgresStore(database_url).leader("scheduler")
        assert standby.try_acquire() is False
        assert "forms scheduler on " in standby.holder()
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)
        killed = time.monotonic()
        while not standby.try_acquire() and time.monotonic() - killed < 10:
            time.sleep(0.1)
        assert standby.held(), "the standby takes over"
        assert time.monotonic() - killed < 5
        standby.release()
    finally:
        holder.kill()
        holder.wait(timeout=10)


def test_closing_the_store_lets_its_leader_go(database_url):
    store, standby = PostgresStore(database_url), PostgresStore(database_url)
    leader = store.leader("scheduler")
    assert leader.try_acquire()
    assert standby.leader("scheduler").try_acquire() is False
    store.close()
    assert leader.held() is False
    assert standby.leader("scheduler").try_acquire()
    standby.close()


def test_a_nul_character_never_breaks_a_write(pg_app, database_url):
    client = pg_app.test_client()
    token = csrf_token(client, "/en/forms/concern/")
    response = client.post("/en/forms/concern/", data={**CONCERN, "observed": "before\x00after",
                                                      "csrf_token": token})
    assert response.status_code == 303
    store = pg_app.extensions["store"]
    [record] = store.list("concern")
    assert record.data["observed"] in ("beforeafter", "before\ufffdafter")  # the form or the store drops it
    added = store.add("page_feedback", language="en", programme=None, status="new", data={"k\x00": ["\x00"]})
    assert store.get("page_feedback", added.id) == added and added.data == {"k\ufffd": ["\ufffd"]}


# -- moving a TinyDB deployment ---------------------------------------------------------------------

STATUSES = {
    "agreement": ("awaiting_confirmation", "confirmed", "changes_requested", "expired"),
    "concern": ("new", "notified", "acknowledged"),
    "evaluation": ("new",),
    "page_feedback": ("new",),
    "outbox": ("queued", "sending", "sent", "failed"),
    "digest_state": ("active",),
}
ANSWERS = {"agreement": AGREEMENT, "concern": CONCERN, "evaluation": EVALUATION,
           "page_feedback": {"page": "/en/", "helpful": "no", "comment": "Mangler et avsnitt om pauser"},
           "outbox": {"purpose": "concern_new", "to": {"name": "Kari", "email": "kontakt@example.org"},
                      "subject": "Ny bekymringsmelding", "attempts": 1, "last_error": None},
           "digest_state": {"until": "2026-01-05T07:00:00+00:00"}}


def tinydb_instance(path: Path) -> dict[str, int]:
    """An instance folder holding every kind in every status, some due and claimed; returns counts."""
    store = TinyDBStore(instance_folder(path) / "data")
    now = utcnow()
    counts = {}
    for kind, statuses in STATUSES.items():
        for n, status in enumerate(statuses):
            for copy in range(2):
                due = now - timedelta(minutes=n) if status in ("queued", "sending", "new", "awaiting_confirmation") \
                    else None
                record = store.add(kind, language=("nb", "en", "da")[copy + n % 2], programme="example",
                                   status=status, data={**ANSWERS[kind], "copy": copy}, due=due,
                                   created=now - timedelta(days=n, minutes=copy))
                if status == "sending":
                    store.claim(kind, due_before=now, lease=timedelta(minutes=5), limit=10)
                assert record.status == status
        counts[kind] = 2 * len(statuses)
    return counts


def test_import_from_tinydb_twice_copies_everything_once(built_site, tmp_path, database_url):
    old = tmp_path / "old-instance"
    counts = tinydb_instance(old)
    env = service_env(built_site, instance_folder(tmp_path / "instance"), database_url)
    first = flask_command(env, "db", "import-tinydb", str(old))
    assert first.returncode == 0, first.stderr
    for kind, count in counts.items():
        assert f"{kind}: {count} record(s), {count} new, 0 already there" in first.stdout
    assert f"Imported {sum(counts.values())} new record(s); 0 already there" in first.stdout
    second = flask_command(env, "db", "import-tinydb", str(old))
    assert second.returncode == 0, second.stderr
    for kind, count in counts.items():
        assert f"{kind}: {count} record(s), 0 new, {count} already there" in second.stdout
    assert f"Imported 0 new record(s); {sum(counts.values())} already there" in second.stdout
    source, target = TinyDBStore(old / "data"), PostgresStore(database_url)
    for kind in counts:
        assert target.list(kind) == source.list(kind), f"{kind}: every field as it was"
    assert target.kinds() == counts
    target.close()


def test_import_needs_an_instance_folder_and_a_database(built_site, tmp_path, database_url):
    env = service_env(built_site, instance_folder(tmp_path / "instance"), database_url)
    result = flask_command(env, "db", "import-tinydb", str(tmp_path))
    assert result.returncode == 2 and "has no data/ folder" in result.stderr
    without = {**env, "FORMS_DATABASE_URL": ""}
    result = flask_command(without, "db", "import-tinydb", str(tmp_path / "instance"))
    assert result.returncode == 2 and "FORMS_DATABASE_URL is not set" in result.stderr


# -- two app servers, one database -----------------------------------------------------------------

def start_gunicorn(env: dict[str, str], port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}", "--log-level",
         "warning", "forms_service:create_app()"], cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "gunicorn exited"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("gunicorn did not start")


def submit(form_port: int, post_port: int) -> int:
    """One person: the form from one server, the report posted to the other (a load balancer
    without sticky sessions)."""
    connection = http.client.HTTPConnection("127.0.0.1", form_port, timeout=60)
    connection.request("GET", "/en/forms/concern/")
    response = connection.getresponse()
    page = response.read().decode()
    cookie = (response.getheader("Set-Cookie") or "").split(";")[0]
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    connection.close()
    connection = http.client.HTTPConnection("127.0.0.1", post_port, timeout=60)
    connection.request("POST", "/en/forms/concern/", body=urlencode({**CONCERN, "csrf_token": token}, doseq=True),
                       headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    status = connection.getresponse().status
    connection.close()
    return status


def test_two_app_servers_store_every_one_of_200_concurrent_submissions(built_site, tmp_path, database_url):
    ports = [free_port(), free_port()]
    servers = [start_gunicorn(service_env(built_site, instance_folder(tmp_path / f"machine{i}"), database_url), port)
               for i, port in enumerate(ports)]
    try:
        pairs = [(ports[n % 2], ports[(n // 2) % 2]) for n in range(200)]
        with ThreadPoolExecutor(max_workers=50) as pool:  # 4 rounds of 50 at once
            statuses = list(pool.map(lambda pair: submit(*pair), pairs))
    finally:
        for server in servers:
            server.send_signal(signal.SIGTERM)
        for server in servers:
            server.wait(timeout=30)
    assert statuses == [303] * 200
    store = PostgresStore(database_url)
    stored = store.list("concern")
    assert len(stored) == 200 and len({r.id for r in stored}) == 200
    assert all(r.data["observed"] == CONCERN["observed"] and r.language == "en" for r in stored)
    store.close()
