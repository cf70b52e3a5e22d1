"""Faults: concurrent processes, a writer killed mid-write, and a mail server that hangs.

Every loop here is bounded in count and time.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest
from conftest import ROOT, SECRET
from test_forms import CONCERN

from forms_service.programmes import Person
from forms_service import mail
from forms_service.storage.tinydb import TinyDBStore as Store


def _submitter(site_dir: str, instance: str, count: int, results) -> None:
    """One process: its own app on the shared instance folder, ``count`` submissions at once."""
    import re

    from forms_service import create_app

    app = create_app({"TESTING": True, "SECRET_KEY": SECRET, "SITE_DIR": site_dir, "INSTANCE_PATH": instance,
                      "FORM_RATE_LIMIT": "10000 per minute"})

    def submit(_):
        client = app.test_client()
        page = client.get("/forms/concern/").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        return client.post("/forms/concern/", data={**CONCERN, "csrf_token": token}).status_code

    with ThreadPoolExecutor(max_workers=count) as pool:
        results.extend(list(pool.map(submit, range(count))))


def test_four_processes_of_fifty_concurrent_submissions(built_site, tmp_path):
    instance = str(tmp_path / "instance")
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        results = manager.list()
        processes = [context.Process(target=_submitter, args=(str(built_site), instance, 50, results))
                     for _ in range(4)]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=240)
            assert process.exitcode == 0
        statuses = list(results)
    assert statuses == [303] * 200
    store = Store(tmp_path / "instance" / "data")
    assert store.count("concern") == 200
    for bucket in (tmp_path / "instance" / "data" / "concern").glob("*.json"):
        for line in bucket.read_bytes().rstrip(b"\0").splitlines():
            json.loads(line)  # every line of every data file is whole JSON


WRITER = textwrap.dedent("""
    import sys
    from forms_service.storage.tinydb import TinyDBStore as Store
    store = Store(sys.argv[1])
    n = 0
    while True:
        record = store.add("concern", language="nb", programme="example", status="new",
                           data={"observed": "x" * 2000, "n": n})
        print(record.id, flush=True)   # acknowledged only once add() has returned
        n += 1
""")


def test_a_writer_killed_mid_write_loses_no_acknowledged_record(tmp_path):
    data = tmp_path / "data"
    acknowledged: list[str] = []
    for round_ in range(20):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(data)], stdout=subprocess.PIPE, text=True,
                                  cwd=ROOT)
        deadline = time.monotonic() + 20
        seen = 0
        while seen < 5 + round_ % 7 and time.monotonic() < deadline:
            line = writer.stdout.readline()
            if line:
                acknowledged.append(line.strip())
                seen += 1
        os.kill(writer.pid, signal.SIGKILL)  # most likely in the middle of the next write
        rest, _ = writer.communicate(timeout=10)
        acknowledged += [line for line in rest.split() if line]
        store = Store(data)
        stored = {record.id for record in store.list("concern")}  # loads every bucket
        missing = set(acknowledged) - stored
        assert not missing, f"round {round_}: lost {len(missing)} acknowledged records"
    assert len(acknowledged) >= 100


class _SilentServer:
    """Accepts TCP connections and never says a word: an SMTP server that hangs."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.clients = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            self.clients.append(client)

    def close(self):
        self.sock.close()
        for client in self.clients:
            client.close()


def test_smtp_timeout_keeps_the_message_queued(built_site, tmp_path):
    from forms_service import create_app

    server = _SilentServer()
    try:
        app = create_app({"TESTING": True, "SECRET_KEY": SECRET, "SITE_DIR": str(built_site),
                          "INSTANCE_PATH": str(tmp_path / "i"), "SMTP_HOST": "127.0.0.1",
                          "SMTP_PORT": server.port, "SMTP_SECURITY": "none", "SMTP_TIMEOUT": 1})
        now = datetime.now(timezone.utc)
        with app.test_request_context():
            mail.queue("delivery_failed", Person("A", "a@example.org", "nb"), key="1", now=now, failed_id="1",
                       purpose_failed="p", recipient="r", reason="x", attempts=1)
            started = time.monotonic()
            counts = mail.send_due(now)
            assert time.monotonic() - started < 10
        assert counts == {"sent": 0, "retry": 1, "failed": 0}
        [message] = app.extensions["store"].list("outbox")
        assert message.status == "queued" and "timed out" in message.data["last_error"]
    finally:
        server.close()


@pytest.mark.parametrize("failure", ["read-only", "disk-full"])
def test_store_reports_an_unwritable_folder_and_keeps_the_old_data(tmp_path, monkeypatch, failure):
    import errno

    from forms_service.storage import StorageUnavailable

    store = Store(tmp_path / "data")
    kept = store.add("concern", language="nb", programme=None, status="new", data={})
    code = errno.EROFS if failure == "read-only" else errno.ENOSPC

    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr("forms_service.storage.tinydb.os.fsync", refuse)
    monkeypatch.setattr("forms_service.storage.tinydb.os.fdatasync", refuse)
    with pytest.raises(StorageUnavailable):
        store.add("concern", language="nb", programme=None, status="new", data={})
    with pytest.raises(StorageUnavailable):
        store.update("concern", kept.id, status="x")
    monkeypatch.undo()
    assert store.get("concern", kept.id).status == "new"
    assert store.count("concern") == 1
    assert not list((tmp_path / "data" / "concern").glob("*.tmp")), "no temporary file is left behind"


def test_a_really_read_only_folder_gives_503_in_the_readers_language_then_recovers(client, store):
    """A read-only folder in earnest: chmod for a normal user; as root, whom permissions do not stop,
    chattr +i, which makes the folder immutable even for root."""
    from bs4 import BeautifulSoup
    from test_forms import post

    assert post(client, "/da/forms/concern/", CONCERN).status_code == 303
    folder = store.root / "concern"
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    as_root = os.geteuid() == 0
    if as_root:
        subprocess.run(["chattr", "+i", str(folder)], check=True)
    else:
        folder.chmod(0o500)
    try:
        response = post(client, "/da/forms/concern/", CONCERN)
        assert response.status_code == 503
        document = BeautifulSoup(response.get_data(as_text=True), "html.parser")
        assert document.html["lang"] == "da" and "kan ikke gemme" in document.select_one("article h1").get_text()
        assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before, "nothing half-written"
    finally:
        if as_root:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        else:
            folder.chmod(0o700)
    assert post(client, "/da/forms/concern/", CONCERN).status_code == 303
    assert store.count("concern") == 2
