"""Two schedulers against one PostgreSQL: the active one is killed mid-batch, the standby takes
over, and 1,000 queued emails reach a real SMTP server (aiosmtpd) once each."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import psycopg
from conftest import ROOT, SECRET
from test_postgres import instance_folder, service_env

from forms_service import create_app, mail
from forms_service.programmes import Person
from forms_service.storage.postgres import AdvisoryLeader

MESSAGES = 1_000


def start_scheduler(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "forms_service", "scheduler"], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for(condition, timeout: float, what: str) -> float:
    """Poll ``condition`` until it holds (bounded); returns when it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_the_standby_takes_over_and_every_email_goes_out_once(built_site, tmp_path, database_url, smtp):
    app = create_app({"TESTING": True, "SECRET_KEY": SECRET, "SITE_DIR": str(built_site),
                      "INSTANCE_PATH": str(tmp_path / "queue"), "DATABASE_URL": database_url,
                      "MAIL_FROM": "handbook@example.org"})
    with app.test_request_context():
        for n in range(MESSAGES):
            mail.queue("agreement_confirm", Person(f"Person {n}", f"person{n}@example.org", "nb"), key=str(n),
                       from_name="Kari Mentor", expires="4. desember 2026", recipient_name=f"P{n}",
                       confirm_url=f"http://127.0.0.1/forms/agreement/confirm/{n}/")
        queued = {mail.message_id(r) for r in app.extensions["store"].list(mail.KIND)}
    assert len(queued) == MESSAGES
    app.extensions["store"].close()

    def env(machine: str) -> dict[str, str]:
        # A lease of 60 + 20 x 2 x 2 s: the batch the killed scheduler held comes back within 140 s.
        return {**service_env(built_site, instance_folder(tmp_path / machine), database_url),
                "FORMS_SMTP_HOST": "127.0.0.1", "FORMS_SMTP_PORT": str(smtp.controller.port),
                "FORMS_SMTP_SECURITY": "none", "FORMS_SMTP_TIMEOUT": "2", "FORMS_MAIL_FROM": "handbook@example.org"}

    def unsent() -> int:
        with psycopg.connect(database_url) as conn:
            return conn.execute("SELECT count(*) FROM records WHERE kind = 'outbox' AND status <> 'sent'").fetchone()[0]

    leader = AdvisoryLeader(database_url, "scheduler")
    active = start_scheduler(env("machine1"))
    standby = None
    try:
        wait_for(lambda: f"pid {active.pid}" in leader.holder(), 60, "the first scheduler to become active")
        standby = start_scheduler(env("machine2"))
        wait_for(lambda: len(smtp.messages) >= 300, 120, "300 emails from the active scheduler")
        os.kill(active.pid, signal.SIGKILL)
        killed, before = time.monotonic(), len(smtp.messages)
        active.wait(timeout=10)
        took_over = wait_for(lambda: f"pid {standby.pid}" in leader.holder(), 30, "the standby to take over")
        first_send = wait_for(lambda: len(smtp.messages) > before, 60, "the standby's first email")
        try:
            # Every email arrived and every one is marked sent. The standby sends at once what the
            # killed one had claimed (a message it had handed to the server goes again, with the
            # same Message-ID), not after the claims' lease of 140 s.
            done = wait_for(lambda: len({m["Message-ID"] for m in smtp.messages}) >= MESSAGES and not unsent(),
                            300, "every email, sent and marked")
            assert done - killed < 100, f"the killed scheduler's batch waited out its lease ({done - killed:.0f} s)"
        except AssertionError as error:
            with psycopg.connect(database_url) as conn:
                states = conn.execute("SELECT status, claim IS NOT NULL, data->>'last_error', count(*) FROM records"
                                      " WHERE kind = 'outbox' GROUP BY 1, 2, 3").fetchall()
            raise AssertionError(f"{error}: {len(smtp.messages)} received; outbox {states}") from None
        time.sleep(2)  # anything sent twice would arrive now
    finally:
        for process in (active, standby):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
    received = Counter(m["Message-ID"] for m in smtp.messages)
    assert set(received) == queued, "every queued email arrived, and nothing else"
    again = {message_id: n for message_id, n in received.items() if n > 1}
    # The one window no SMTP client can close: accepted by the server, not yet marked sent when
    # the process died. That message comes again with the same Message-ID (mail.py).
    assert len(again) <= 1 and all(n == 2 for n in again.values()), again
    with psycopg.connect(database_url) as conn:
        statuses = dict(conn.execute("SELECT status, count(*) FROM records WHERE kind = 'outbox' GROUP BY status"))
    assert statuses == {"sent": MESSAGES}
    print(f"\nstandby active {took_over - killed:.1f} s after the kill, first email from it after "
          f"{first_send - killed:.1f} s, all marked sent after {done - killed:.1f} s; {before} sent before the kill, "
          f"{len(again)} sent twice")
