"""The core that carries concern reports: nothing lost, nothing sent twice, nothing stalls the mail.

Processes are killed at every point between the web request and the SMTP server's acceptance;
poisoned records sit beside good ones; two senders race for one message; a scheduler dies and
its standby takes over; the service runs with few file descriptors. Every loop is bounded.
"""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import stat
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from http.cookiejar import CookieJar

import pytest
from conftest import ROOT, SECRET, free_port
from agreement_flow import send_and_verify
from test_forms import AGREEMENT, CONCERN, post

from forms_service import mail, scheduler
from forms_service.programmes import Person
from forms_service.storage import key_id
from forms_service.storage.tinydb import TinyDBStore

pytestmark = pytest.mark.smtp
CONTACT, BACKUP, COORDINATOR, ADMIN = ("kontakt@example.org", "backup@example.org", "koordinator@example.org",
                                       "admin@example.org")


def run(app, job, *args):
    with scheduler.job_context(app):
        return job(*args)


def service_env(app, **extra) -> dict:
    """The environment of a service process on the same instance folder and mail server as ``app``."""
    config = app.config
    return {**os.environ, "FORMS_SECRET_KEY": SECRET, "FORMS_INSTANCE_PATH": app.instance_path,
            "FORMS_SITE_DIR": config["SITE_DIR"], "FORMS_PUBLIC_URL": config["PUBLIC_URL"],
            "FORMS_SMTP_HOST": config["SMTP_HOST"], "FORMS_SMTP_PORT": str(config["SMTP_PORT"]),
            "FORMS_SMTP_SECURITY": "none", "FORMS_SMTP_TIMEOUT": "5", "FORMS_ADMIN_EMAIL": ADMIN,
            "FORMS_MAIL_FROM": config["MAIL_FROM"], "FORMS_FORM_RATE_LIMIT": "1000 per minute", **extra}


def run_due_process(app, crash_at: str | None = None) -> int:
    """`flask run-due` in a process of its own, killed (os._exit) at ``crash_at`` if given."""
    env = service_env(app)
    env.pop("FORMS_CRASH_AT", None)
    if crash_at:
        env["FORMS_CRASH_AT"] = crash_at
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "forms_service", "run-due"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode in (0, 70), result.stderr[-2000:]
    return result.returncode


POST_SCRIPT = """
import re, sys
from forms_service import create_app
app = create_app()
client = app.test_client()
page = client.get(sys.argv[1]).get_data(as_text=True)
token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
import json
answers = json.loads(sys.argv[2])
print(client.post(sys.argv[1], data={**answers, "csrf_token": token}).status_code)
"""


def post_process(app, url: str, answers: dict, crash_at: str | None = None) -> int:
    env = service_env(app, **({"FORMS_CRASH_AT": crash_at} if crash_at else {}))
    result = subprocess.run([sys.executable, "-c", POST_SCRIPT, url, json.dumps(answers)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode in (0, 70), result.stderr[-2000:]
    return result.returncode


def leases_run_out(store) -> None:
    """What the passing of a lease does: every claimed record is due again now."""
    now = datetime.now(timezone.utc)
    for kind in ("concern", "agreement", mail.KIND):
        for record in store.list(kind):
            if record.claim:
                store.update(kind, record.id, due=now)


def distinct_ids(inbox, address: str) -> Counter:
    return Counter(m["Message-ID"] for m in inbox.to(address))


CONCERN_POINTS = ["concern-stored", "concern-claimed", "concern-queued", "before-smtp", "after-smtp"]


@contextmanager
def scheduler_in_a_thread(app, *, idle: bool = False):
    """The scheduler running in a thread of the test, stopped at the end; with ``idle``, only once
    it is active and its first run is over, so that it waits for work."""
    running = scheduler.Scheduler(app)
    threading.Thread(target=running.run, daemon=True).start()
    try:
        if idle:
            assert running.active.wait(20)
            time.sleep(1)
        yield running
    finally:
        running.stop()


def wait_until(condition, timeout: float) -> None:
    """Poll ``condition`` (bounded) until it holds; the caller asserts it afterwards."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)


@pytest.mark.parametrize("point", CONCERN_POINTS)
def test_a_concern_report_killed_at_any_point_is_emailed_exactly_once(app, store, smtp, point):
    if point == "concern-stored":
        assert post_process(app, "/forms/concern/", CONCERN, crash_at=point) == 70
    else:
        assert post_process(app, "/forms/concern/", CONCERN) == 0
    assert store.count("concern") == 1, "stored before anything could be lost"
    crashed = run_due_process(app, crash_at=point if point != "concern-stored" else None)
    assert crashed == (0 if point == "concern-stored" else 70)
    leases_run_out(store)
    for _ in range(2):
        assert run_due_process(app) == 0
    for address in (CONTACT, CONCERN["reporter_email"]):
        ids = distinct_ids(smtp, address)
        assert len(ids) == 1, f"{address} got {len(ids)} different emails after a crash at {point}"
        # A crash after the server took a message sends it again, with the same Message-ID.
        assert sum(ids.values()) <= (2 if point == "after-smtp" else 1)
    [report] = store.list("concern")
    assert report.status == "notified" and report.claim is None


@pytest.mark.parametrize("point", ["agreement-claimed", "agreement-queued", "before-smtp", "after-smtp"])
def test_an_agreement_killed_at_any_point_asks_the_other_party_exactly_once(app, client, store, smtp, point):
    send_and_verify(client, app, store, AGREEMENT)  # the filler's address confirmed: the request is due
    assert run_due_process(app, crash_at=point) == 70
    leases_run_out(store)
    for _ in range(2):
        run_due_process(app)
    ids = distinct_ids(smtp, AGREEMENT["mentee_email"])
    assert len(ids) == 1 and sum(ids.values()) <= (2 if point == "after-smtp" else 1)
    assert smtp.to(AGREEMENT["mentor_email"]) == []


def test_confirmed_agreement_copies_survive_a_crash_between_queueing_and_recording(app, client, store, smtp):
    send_and_verify(client, app, store, AGREEMENT)
    [record] = store.list("agreement")
    store.update("agreement", record.id, status="confirmed", due=datetime.now(timezone.utc))
    assert run_due_process(app, crash_at="agreement-copies-queued") == 70
    leases_run_out(store)
    run_due_process(app)
    for address in (AGREEMENT["mentor_email"], AGREEMENT["mentee_email"]):
        copies = [m for m in smtp.to(address) if "print" in m.get_body(preferencelist=("plain",)).get_content()]
        assert len({m["Message-ID"] for m in copies}) == 1


def test_queueing_the_same_email_twice_stores_it_once(app, store):
    with app.test_request_context():
        first = mail.queue("delivery_failed", Person("A", "a@example.org", "nb"), key="k", failed_id="1",
                           purpose_failed="p", recipient="r", reason="x", attempts=1)
        second = mail.queue("delivery_failed", Person("A", "A@example.org", "nb"), key="k", failed_id="1",
                            purpose_failed="p", recipient="r", reason="x", attempts=1)
    assert first.id == second.id and store.count(mail.KIND) == 1


def test_two_senders_and_a_stale_claim_send_once(app, store, smtp):
    now = datetime.now(timezone.utc)
    with app.test_request_context():
        mail.queue("delivery_failed", Person("A", "a@example.org", "nb"), key="k", now=now, failed_id="1",
                   purpose_failed="p", recipient="r", reason="x", attempts=1)
        stalled = mail.claim_due(now)  # this sender stalls (a hung connection, a paused VM) ...
        assert len(stalled) == 1 and mail.claim_due(now) == [], "a live claim is exclusive"
        later = now + mail.lease() + timedelta(seconds=1)
        taken_over = mail.claim_due(later)  # ... its lease runs out and another sender takes over
        assert len(taken_over) == 1 and taken_over[0].claim != stalled[0].claim
        assert mail.deliver(taken_over, later)["sent"] == 1
        assert mail.deliver(stalled, later) == {"sent": 0, "retry": 0, "failed": 0}, "the stalled one sends nothing"
    assert len(smtp.messages) == 1
    [message] = store.list(mail.KIND)
    assert message.status == "sent" and "text" not in message.data and "html" not in message.data


def test_a_scheduler_taking_over_sends_at_once_what_a_stopped_one_held(app, client, store, smtp):
    assert post(client, "/forms/concern/", CONCERN).status_code == 303
    now = datetime.now(timezone.utc)
    with app.test_request_context():
        for n in range(3):
            mail.queue("delivery_failed", Person("A", f"a{n}@example.org", "nb"), key=str(n), now=now,
                       failed_id="1", purpose_failed="p", recipient="r", reason="x", attempts=1)
        # The scheduler that held the lock dies with these claimed: the messages mid-send, and the
        # concern report mid-step (its email not yet queued).
        held = mail.claim_due(now)
        [report] = store.claim("concern", due_before=now, lease=scheduler.STEP_LEASE, limit=10, now=now)
        assert len(held) == 3 and mail.lease() > timedelta(minutes=2) and scheduler.STEP_LEASE > timedelta(minutes=2)
    with scheduler_in_a_thread(app):
        wait_until(lambda: len(smtp.messages) >= 3 and smtp.to(CONTACT), 20)
    sent_to = [m["To"] for m in smtp.messages]
    assert all(sent_to.count(f"A <a{n}@example.org>") == 1 for n in range(3)), \
        "sent when the scheduler took over, not after the lease"
    assert smtp.to(CONTACT), "the concern report's email went out at the takeover, not after the step's lease"
    assert store.get("concern", report.id).status == "notified"


def test_outbox_send_wakes_an_active_scheduler_instead_of_sending_beside_it(app, store, smtp, monkeypatch):
    monkeypatch.setattr(scheduler, "RUN_EVERY_S", 60)
    with scheduler_in_a_thread(app, idle=True):  # it waits up to a minute for its next run
        with app.test_request_context(), monkeypatch.context() as quiet:
            # Queued without the usual wake-up, as by a process that could not reach the scheduler.
            quiet.setattr(app.extensions["store"], "notify", lambda channel: None)
            mail.queue("delivery_failed", Person("A", "a@example.org", "nb"), key="k", failed_id="1",
                       purpose_failed="p", recipient="r", reason="x", attempts=1)
        result = app.test_cli_runner().invoke(args=["outbox", "send"])
        assert result.exit_code == 0 and "A scheduler is active" in result.output, result.output
        assert f"pid {os.getpid()}" in result.output, "the operator sees which process"
        wait_until(lambda: smtp.to("a@example.org"), 10)
        assert smtp.to("a@example.org")


def test_poisoned_records_of_every_kind_do_not_stop_a_concern_report(app, client, store, smtp):
    now = datetime.now(timezone.utc)
    edge = {**AGREEMENT, "start_date": "0001-01-01", "end_date": "9999-12-31", "midway_date": "0001-01-01",
            "final_date": "9999-12-31", "confirmations": {}}
    store.add("agreement", language="nb", programme="example", status="confirmed", data=edge, due=now)
    store.add("agreement", language="nb", programme="example", status="confirmed",
              data={**edge, "start_date": "9999-12-31"}, due=now)
    store.add("agreement", language="nb", programme="example", status="awaiting_confirmation", data={}, due=now)
    store.add("concern", language="nb", programme="example", status="new", data={"urgency": "urgent"}, due=now)
    store.add("concern", language="nb", programme="gone", status="new", data=CONCERN, due=now)
    store.add("concern", language="nb", programme="example", status="notified", data={}, due=now)
    store.add(mail.KIND, language="nb", programme=None, status="queued", data={"purpose": "x", "attempts": 0},
              due=now)
    corrupt = store.root / "concern" / "fff.json"
    corrupt.write_text('{"records": {"broken', encoding="utf-8")
    assert post(client, "/forms/concern/", CONCERN).status_code == 303
    run(app, scheduler.run_due, now + timedelta(seconds=5))
    good = [m for m in smtp.to(CONTACT) if CONCERN["other"] in m.get_body(preferencelist=("plain",)).get_content()]
    assert len(good) == 1, "the good report was emailed"
    assert len(smtp.to(CONCERN["reporter_email"])) == 1
    stuck = [r for kind in ("concern", "agreement") for r in store.list(kind) if r.data.get("step_failures")]
    assert len(stuck) == 3 and all(r.due > now + timedelta(seconds=30) for r in stuck), "put off, not dropped"
    assert {r.kind for r in stuck} == {"concern", "agreement"}
    assert not corrupt.exists() and store.problems(), "the damaged bucket was moved aside and reported"
    # Failing again and again, they are reported to the admin, without content.
    for minutes in (10, 30):
        run(app, scheduler.run_due, now + timedelta(minutes=minutes))
    told = smtp.to(ADMIN)
    assert told and all(CONCERN["observed"] not in m.get_body(preferencelist=("plain",)).get_content() for m in told)


def test_an_unread_report_goes_to_the_coordinators_after_the_last_reminder(app, client, store, smtp):
    assert post(client, "/forms/concern/", CONCERN).status_code == 303
    [record] = store.list("concern")
    for hours in (0, 25, 49, 73, 97, 200):
        run(app, scheduler.run_due, record.created + timedelta(hours=hours, seconds=1))
    assert len(smtp.to(CONTACT)) == 1 + scheduler.concern.MAX_REMINDERS
    escalations = smtp.to(COORDINATOR) + smtp.to(ADMIN)
    assert len(escalations) == 2
    for message in escalations:
        text = message.get_body(preferencelist=("plain",)).get_content()
        assert CONCERN["observed"].split("\n")[0] not in text and CONCERN["reporter_phone"] not in text
    assert store.get("concern", record.id).status == "notified", "never deleted unread"
    run(app, scheduler.run_due, record.created + timedelta(days=400))
    assert store.count("concern") == 1


def test_the_reporter_hears_when_the_report_is_read_and_the_link_dies_with_the_report(app, client, store, smtp):
    assert post(client, "/forms/concern/", CONCERN).status_code == 303
    [record] = store.list("concern")
    run(app, scheduler.run_due, record.created + timedelta(seconds=1))
    ack = urllib.parse.urlsplit(re.search(r"https?://\S+/forms/concern/ack/\S+", smtp.to(CONTACT)[0]
                                          .get_body(preferencelist=("plain",)).get_content()).group(0)).path
    assert post(client, ack, {}).status_code == 200
    run(app, scheduler.run_due, datetime.now(timezone.utc) + timedelta(seconds=1))
    [receipt, read] = smtp.to(CONCERN["reporter_email"])
    assert "read" in str(read["Subject"]) or "lest" in str(read["Subject"])
    assert CONCERN["observed"].split("\n")[0] not in read.get_body(preferencelist=("plain",)).get_content()
    run(app, scheduler.run_due, datetime.now(timezone.utc) + timedelta(days=91))
    assert store.count("concern") == 0
    assert client.get(ack).status_code == 404


def test_a_new_report_wakes_the_scheduler_and_is_emailed_within_seconds(app, client, smtp, monkeypatch):
    monkeypatch.setattr(scheduler, "RUN_EVERY_S", 60)
    with scheduler_in_a_thread(app, idle=True):
        started = time.monotonic()
        assert post(client, "/forms/concern/", CONCERN).status_code == 303
        wait_until(lambda: smtp.to(CONTACT), 20)
        assert smtp.to(CONTACT), "not emailed"
        assert time.monotonic() - started < 10, "emailed at the next run rather than at once"


def test_missed_cron_jobs_catch_up_once(app, client, smtp):
    from test_forms import EVALUATION

    now = datetime.now(timezone.utc)
    with scheduler.job_context(app):
        scheduler.catch_up(app, now - timedelta(days=8))  # a scheduler ran 8 days ago, then none
    assert post(client, "/forms/feedback/", EVALUATION).status_code == 303
    missed = scheduler.catch_up(app, now)
    assert "digest-example" in missed and "purge" in missed
    with scheduler.job_context(app):
        mail.send_due(datetime.now(timezone.utc))
    assert len(smtp.to(COORDINATOR)) == 1
    assert scheduler.catch_up(app, now + timedelta(minutes=1)) == [], "made up once, not again"


def test_healthz_says_when_the_scheduler_last_ran_without_content(app, client):
    body = client.get("/healthz").get_json()
    assert body["status"] == "attention" and body["scheduler"]["last_run"] is None
    assert post(client, "/forms/concern/", CONCERN).status_code == 303
    run(app, scheduler.heartbeat)
    response = client.get("/healthz")
    body = response.get_json()
    assert response.status_code == 200 and body["status"] == "ok" and body["outbox"] == {"waiting": 0, "failed": 0}
    assert body["scheduler"]["seconds_ago"] < 60 and "example" not in response.get_data(as_text=True)
    result = app.test_cli_runner().invoke(args=["check-config"])
    assert "Scheduler: last ran" in result.output


def test_instance_data_and_mail_are_private(app, client):
    assert post(client, "/forms/concern/", CONCERN).status_code == 303
    run(app, scheduler.run_due, datetime.now(timezone.utc) + timedelta(seconds=1))
    instance = app.instance_path
    for folder in (instance, f"{instance}/data", f"{instance}/data/concern"):
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700, folder
    for path in [*os.scandir(f"{instance}/data/concern")]:
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_a_standby_scheduler_takes_over_within_a_minute_when_the_active_one_is_killed(app):
    env = service_env(app)
    command = [sys.executable, "-m", "flask", "--app", "forms_service", "scheduler"]
    store = TinyDBStore(os.path.join(app.instance_path, "data"))
    heartbeat = key_id(scheduler.STATE, "heartbeat")

    def active_pid(deadline_s: float) -> int | None:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            try:
                return store.get(scheduler.STATE, heartbeat).data["pid"]
            except (KeyError, LookupError):
                time.sleep(0.2)
        return None

    first = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    second = None
    try:
        assert active_pid(30) == first.pid
        second = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(2)
        assert second.poll() is None, "the second scheduler exited instead of waiting"
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed = time.monotonic()
        deadline = killed + 60
        while time.monotonic() < deadline and store.get(scheduler.STATE, heartbeat).data.get("pid") != second.pid:
            time.sleep(0.2)
        assert store.get(scheduler.STATE, heartbeat).data["pid"] == second.pid, "no takeover within a minute"
    finally:
        for process in (first, second):
            if process and process.poll() is None:
                process.terminate()
                process.wait(timeout=20)


def test_few_file_descriptors_lose_nothing_and_keep_the_service_answering(app):
    """`make run`'s server under RLIMIT_NOFILE 256 takes 5,000 submissions of three kinds."""
    port = free_port()
    env = service_env(app, PORT=str(port), FORMS_DEBUG="0", FORMS_FORM_RATE_LIMIT="100000 per minute")
    env.pop("FORMS_SMTP_HOST")  # mail to files: the scheduler writes them under the same limit

    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    log = open(os.path.join(app.instance_path, "server.log"), "w+b")
    server = subprocess.Popen([sys.executable, "-m", "forms_service"], cwd=ROOT, env=env, preexec_fn=low_limit,
                              stdout=subprocess.DEVNULL, stderr=log)
    base = f"http://127.0.0.1:{port}"
    statuses: Counter = Counter()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(base + "/forms/concern/", timeout=5)
                break
            except OSError:
                time.sleep(0.2)
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()),
                                             _NoRedirect())
        page = opener.open(base + "/forms/concern/", timeout=10).read().decode()
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        concern = urllib.parse.urlencode({**CONCERN, "csrf_token": token}, doseq=True).encode()
        headers = {"Accept": "application/json", "Origin": base}

        def send(n: int) -> None:
            if n % 5 < 2:
                request = urllib.request.Request(base + "/forms/concern/", data=concern)
            else:
                body = urllib.parse.urlencode({"page": f"/steps/{n % 6 + 1}/", "rating": str(n % 2)}).encode()
                request = urllib.request.Request(base + "/forms/feedback/page/", data=body, headers=headers)
            try:
                statuses[opener.open(request, timeout=120).status] += 1
            except urllib.error.HTTPError as error:
                statuses[error.code] += 1
            except OSError as error:
                statuses[type(error).__name__] += 1

        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(send, range(5000)))
        assert urllib.request.urlopen(base + "/forms/agreement/", timeout=10).status == 200
        fds = len(os.listdir(f"/proc/{server.pid}/fd"))
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.seek(0)
        errors = b"\n".join(line for line in log.read().splitlines() if b'" 200 -' not in line and b'" 303 -' not in line)
    assert statuses == Counter({303: 2000, 200: 3000}), (statuses, errors.decode()[-3000:])
    data = TinyDBStore(os.path.join(app.instance_path, "data"))
    assert data.count("concern") == 2000 and data.count("page_feedback") == 3000
    assert fds < 100, f"{fds} descriptors open after 5,000 submissions"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None

    def http_error_303(self, req, fp, code, msg, headers):
        return fp


def test_dates_at_the_calendars_edges_do_not_break_the_follow_ups(app, store, smtp):
    now = datetime.now(timezone.utc)
    for start, end in ((date.min, date.max), (date.max, date.max), (date(2026, 1, 1), date.max)):
        dates = {"start_date": start.isoformat(), "end_date": end.isoformat(), "midway_date": start.isoformat(),
                 "final_date": end.isoformat()}
        store.add("agreement", language="nb", programme="example", status="confirmed",
                  data={**AGREEMENT, **dates, "confirmations": {}}, due=now)
    run(app, scheduler.run_due, now)
    assert not [r for r in store.list("agreement") if r.data.get("step_failures")]
