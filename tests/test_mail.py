"""Email on schedule, with a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta, timezone
from email import message_from_bytes
from email.policy import default as default_policy
from urllib.parse import urlsplit

import pytest
from conftest import PUBLIC_URL, SECRET, csrf_token
from agreement_flow import send_agreement, send_and_verify
from test_forms import AGREEMENT, CONCERN, EVALUATION, FINAL, MIDWAY, START, post

from forms_service.programmes import Person
from forms_service import create_app, feedback, mail, scheduler as jobs
from forms_service.scheduler import Scheduler

CONTACT, BACKUP, COORDINATOR = "kontakt@example.org", "backup@example.org", "koordinator@example.org"
pytestmark = pytest.mark.smtp


def run(app, job, *args):
    with app.test_request_context():
        return job(*args)


def body(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html_body(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def link_in(message, fragment: str) -> str:
    url = next(u for u in re.findall(r"https?://\S+", body(message)) if fragment in u)
    assert url.startswith(PUBLIC_URL)
    return urlsplit(url).path


def later(record, **delta) -> datetime:
    return record.created + timedelta(**delta)


# -- concern reports ----------------------------------------------------------------------------

def test_concern_reaches_the_contact_person_with_a_working_acknowledgement(app, client, store, smtp):
    post(client, "/forms/concern/", CONCERN)
    [record] = store.list("concern")
    counts = run(app, jobs.run_due, later(record, seconds=30))
    assert counts["sent"] == 2

    [report] = smtp.to(CONTACT)
    assert report["Subject"].startswith("Bekymringsmelding")  # the contact person's language (nb)
    text = body(report)
    for key in ("observed", "actions", "reporter_name", "reporter_email", "other"):
        assert CONCERN[key].split("\n")[0] in text, key
    ack = link_in(report, "/forms/concern/ack/")

    # Following the link acknowledges nothing: only the button does.
    page = client.get(ack)
    assert page.status_code == 200 and store.get("concern", record.id).status == "notified"
    response = client.post(ack, data={"csrf_token": csrf_token(client, ack)})
    assert response.status_code == 200
    acknowledged = store.get("concern", record.id)
    assert acknowledged.status == "acknowledged"
    assert acknowledged.data["acknowledged_by"] == {"role": "contact", "name": "Kari Kontakt"}
    again = client.get(ack)  # the link still opens the report, after the button, until it is deleted
    assert again.status_code == 200 and CONCERN["observed"].split("\n")[0] not in again.get_data(as_text=True)

    # No reminder after acknowledgement, however late it gets.
    run(app, jobs.run_due, later(record, hours=30))
    run(app, jobs.run_due, later(record, hours=80))
    assert len(smtp.to(CONTACT)) == 1 and smtp.to(BACKUP) == []


def test_reporter_receipt_has_no_content(app, client, store, smtp):
    post(client, "/en/forms/concern/", CONCERN)
    [record] = store.list("concern")
    run(app, jobs.run_due, later(record, seconds=30))
    [receipt] = smtp.to(CONCERN["reporter_email"])
    text = body(receipt) + html_body(receipt) + str(receipt["Subject"])
    assert f"{record.id[:4]}-{record.id[4:8]}".upper() in text
    assert "Receipt" in receipt["Subject"]  # the reporter's language (en)
    for key in ("observed", "actions", "other", "reporter_phone"):
        assert CONCERN[key].split("\n")[0] not in text, key
    for label in ("Bullying", "Mobbing"):
        assert label not in text


def test_unacknowledged_concern_reminds_contact_and_backup(app, client, store, smtp):
    post(client, "/forms/concern/", {**CONCERN, "urgency": "urgent"})
    [record] = store.list("concern")
    run(app, jobs.run_due, later(record, minutes=1))
    run(app, jobs.run_due, later(record, hours=3, minutes=59))  # urgent deadline is 4 h
    assert len(smtp.to(CONTACT)) == 1 and smtp.to(BACKUP) == []
    run(app, jobs.run_due, later(record, hours=4, minutes=1))
    assert len(smtp.to(CONTACT)) == 2
    [reminder] = smtp.to(BACKUP)
    assert "påminnelse" in str(reminder["Subject"]).lower()
    ack = link_in(reminder, "/forms/concern/ack/")
    run(app, jobs.run_due, later(record, hours=4, minutes=2))
    assert len(smtp.to(BACKUP)) == 1, "one reminder per deadline, not one per run"
    client.post(ack, data={"csrf_token": csrf_token(client, ack)})
    assert store.get("concern", record.id).data["acknowledged_by"]["role"] == "backup"
    run(app, jobs.run_due, later(record, hours=9))
    assert len(smtp.to(BACKUP)) == 1


# -- agreements ---------------------------------------------------------------------------------

def test_agreement_flow_from_request_to_copies(app, client, store, smtp):
    send_agreement(client, AGREEMENT, "da")
    [record] = store.list("agreement")
    run(app, jobs.run_due, later(record, minutes=1))
    [address] = smtp.to(AGREEMENT["mentor_email"])
    assert smtp.to(AGREEMENT["mentee_email"]) == [], "nobody else is emailed before the filler's click"
    verify_url = link_in(address, "/forms/agreement/verify/")
    client.post(verify_url, data={"csrf_token": csrf_token(client, verify_url)})
    record = store.get("agreement", record.id)
    run(app, jobs.run_due, later(record, minutes=1))
    [request] = smtp.to(AGREEMENT["mentee_email"])
    assert "Kari Mentor" in str(request["Subject"])
    confirm = link_in(request, "/forms/agreement/confirm/")
    assert confirm.startswith("/da/")

    run(app, jobs.run_due, later(record, days=2))
    assert len(smtp.to(AGREEMENT["mentee_email"])) == 1
    run(app, jobs.run_due, later(record, days=3, minutes=1))
    assert len(smtp.to(AGREEMENT["mentee_email"])) == 2, "a reminder after three days"
    run(app, jobs.run_due, later(record, days=4))
    assert len(smtp.to(AGREEMENT["mentee_email"])) == 2

    tokens = dict(re.findall(r'name="(\w+-csrf_token)" type="hidden" value="([^"]+)"',
                             client.get(confirm).get_data(as_text=True)))
    client.post(confirm, data={"confirm-csrf_token": tokens["confirm-csrf_token"],
                               "confirm-full_name": AGREEMENT["mentee_name"]})
    run(app, jobs.run_due, later(record, days=5))
    copies = smtp.to(AGREEMENT["mentor_email"])[1:] + smtp.to(AGREEMENT["mentee_email"])[2:]
    assert len(copies) == 2
    for copy in copies:
        printable = link_in(copy, "/forms/agreement/print/")
        assert client.get(printable).status_code == 200
    run(app, jobs.run_due, later(record, days=6))
    assert len(smtp.to(AGREEMENT["mentor_email"])) == 2, "copies are sent once"


def test_agreement_request_expires_and_the_first_party_is_told(app, client, store, smtp):
    record = send_and_verify(client, app, store, AGREEMENT, "en")
    run(app, jobs.run_due, later(record, minutes=1))
    run(app, jobs.run_due, later(record, days=14, minutes=1))
    assert store.get("agreement", record.id).status == "expired"
    [notice] = smtp.to(AGREEMENT["mentor_email"])
    assert "not confirmed" in str(notice["Subject"])
    run(app, jobs.run_due, later(record, days=15))
    assert len(smtp.to(AGREEMENT["mentor_email"])) == 1


def test_an_address_never_confirmed_expires_and_nobody_else_is_emailed(app, client, store, smtp):
    send_agreement(client, AGREEMENT, "en")
    [record] = store.list("agreement")
    run(app, jobs.run_due, later(record, minutes=1))
    run(app, jobs.run_due, later(record, days=14, minutes=1))
    assert store.get("agreement", record.id).status == "expired"
    assert len(smtp.to(AGREEMENT["mentor_email"])) == 1 and smtp.to(AGREEMENT["mentee_email"]) == []


def test_follow_up_reminders_before_start_midway_and_final(app, client, store, smtp):
    send_agreement(client, AGREEMENT)
    [record] = store.list("agreement")

    def oslo_noon(day):
        return datetime(day.year, day.month, day.day, 11, tzinfo=timezone.utc)

    store.update("agreement", record.id, status="confirmed", data={"copies_sent_at": "done"},
                 due=oslo_noon(START - timedelta(days=4)))

    run(app, jobs.run_due, oslo_noon(START - timedelta(days=4)))
    assert smtp.messages == []
    for day, moment in ((oslo_noon(START - timedelta(days=3)), "start"),
                        (oslo_noon(MIDWAY - timedelta(days=2)), "midway"),
                        (oslo_noon(FINAL - timedelta(days=2)), "final")):
        run(app, jobs.run_due, day)
        run(app, jobs.run_due, day + timedelta(days=1))
        flag = store.get("agreement", record.id).data[f"followup_{moment}_sent_at"]
        assert flag
    assert len(smtp.to(AGREEMENT["mentor_email"])) == 3
    assert len(smtp.to(AGREEMENT["mentee_email"])) == 3


# -- digest -------------------------------------------------------------------------------------

def test_digest_counts_and_is_quiet_when_there_is_nothing(app, client, store, smtp):
    now = datetime.now(timezone.utc)
    assert run(app, feedback.digest, "example", now) == 0
    run(app, mail.send_due, now)
    assert smtp.messages == []

    for rating in ("5", "3"):
        post(client, "/forms/feedback/", {**EVALUATION, "relationship": rating})
    headers = {"Accept": "application/json"}
    for page, rating, comment in (("/mentor/", "1", ""), ("/mentor/", "0", "Mangler eksempler"), ("/steps/", "1", "")):
        client.post("/forms/feedback/page/", data={"page": page, "rating": rating, "comment": comment},
                    headers=headers)
    later_now = datetime.now(timezone.utc) + timedelta(seconds=1)
    assert run(app, feedback.digest, "example", later_now) == 5
    run(app, mail.send_due, later_now)
    [digest] = smtp.to(COORDINATOR)
    text = body(digest)
    assert "5 nye" in str(digest["Subject"])
    assert "/mentor/: 1 / 1" in text and "/steps/: 1 / 0" in text
    assert "Mangler eksempler" in text
    assert "4.0" in text and "5: 1" in text and "3: 1" in text  # relationship: average and counts

    assert run(app, feedback.digest, "example", later_now + timedelta(days=7)) == 0
    run(app, mail.send_due, later_now + timedelta(days=7))
    assert len(smtp.to(COORDINATOR)) == 1


# -- delivery -----------------------------------------------------------------------------------

def test_smtp_down_then_back_delivers_exactly_once(app, client, store, smtp):
    post(client, "/forms/concern/", CONCERN)
    [record] = store.list("concern")
    smtp.controller.stop()
    now = later(record, minutes=1)
    counts = run(app, jobs.run_due, now)
    assert counts == {"sent": 0, "retry": 2, "failed": 0}
    queued = store.list("outbox", status="queued")
    assert len(queued) == 2 and all(m.data["last_error"] for m in queued)
    run(app, jobs.run_due, now + timedelta(seconds=30))  # before the backoff: nothing is tried
    assert all(m.data["attempts"] == 1 for m in store.list("outbox"))
    smtp.restart()
    run(app, jobs.run_due, now + timedelta(minutes=2))
    run(app, jobs.run_due, now + timedelta(minutes=10))
    assert len(smtp.to(CONTACT)) == 1 and len(smtp.to(CONCERN["reporter_email"])) == 1
    assert {m.status for m in store.list("outbox")} == {"sent"}


def test_temporary_refusal_is_retried_with_backoff_then_fails_and_tells_the_admin(app, store, smtp):
    smtp.data_reply = "451 Try again later"
    start = datetime.now(timezone.utc)
    with app.test_request_context():
        mail.queue("delivery_failed", Person("X", "x@example.org", "en"), key="x", now=start,
                   failed_id="f", purpose_failed="p", recipient="r", reason="why", attempts=1)
        times = []
        now = start
        for _ in range(40):
            counts = mail.send_due(now)
            if counts["retry"] or counts["failed"]:
                times.append(now)
            if counts["failed"]:
                break
            now += timedelta(minutes=1)
    [message] = store.list("outbox")
    assert message.status == "failed" and message.data["attempts"] == mail.MAX_ATTEMPTS
    gaps = [round((b - a).total_seconds() / 60) for a, b in zip(times, times[1:], strict=False)]
    assert gaps == [1, 2, 4, 8, 16]
    # An admin notice about a failed admin notice would loop forever: there is none.
    assert store.count("outbox") == 1


def test_permanent_refusal_of_one_recipient_does_not_hold_back_the_others(app, client, store, smtp):
    smtp.refuse_rcpt[CONCERN["reporter_email"]] = "550 No such user"
    post(client, "/forms/concern/", CONCERN)
    [record] = store.list("concern")
    run(app, jobs.run_due, later(record, minutes=1))
    assert len(smtp.to(CONTACT)) == 1
    failed = store.list("outbox", status="failed")
    assert [m.data["to"]["email"] for m in failed] == [CONCERN["reporter_email"]]
    run(app, jobs.run_due, later(record, minutes=2))
    [notice] = smtp.to("admin@example.org")
    assert CONCERN["reporter_email"] in body(notice) and failed[0].id in body(notice)


def test_two_senders_at_once_send_each_message_once(app, store, smtp):
    now = datetime.now(timezone.utc)
    with app.test_request_context():
        for n in range(40):
            mail.queue("delivery_failed", Person(f"R{n}", f"r{n}@example.org", "nb"), key=str(n),
                       now=now, failed_id=str(n), purpose_failed="p", recipient="r", reason="why", attempts=1)

    def sender():
        with app.test_request_context():
            mail.send_due(now)

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(smtp.messages) == 40
    assert len({m["Message-ID"] for m in smtp.messages}) == 40


def test_a_sender_that_dies_mid_batch_loses_nothing_and_repeats_nothing(app, store, smtp, monkeypatch):
    now = datetime.now(timezone.utc)
    with app.test_request_context():
        for n in range(10):
            mail.queue("delivery_failed", Person(f"R{n}", f"r{n}@example.org", "nb"), key=str(n),
                       now=now, failed_id=str(n), purpose_failed="p", recipient="r", reason="why", attempts=1)
    real_send = mail.SMTPTransport.send
    calls = {"n": 0}

    def dying_send(self, message):
        if calls["n"] == 4:
            raise SystemExit("killed")
        calls["n"] += 1
        return real_send(self, message)

    monkeypatch.setattr(mail.SMTPTransport, "send", dying_send)
    with pytest.raises(SystemExit):
        run(app, mail.send_due, now)
    monkeypatch.setattr(mail.SMTPTransport, "send", real_send)
    assert len(smtp.messages) == 4
    run(app, mail.send_due, now + timedelta(minutes=1))  # claims of the dead sender are still leased
    assert len(smtp.messages) == 4
    with app.app_context():
        lease = mail.lease()
    run(app, mail.send_due, now + lease + timedelta(minutes=1))
    assert len(smtp.messages) == 10
    assert len({m["Message-ID"] for m in smtp.messages}) == 10


def test_file_transport_writes_eml_files_the_standard_library_parses(built_site, tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": SECRET, "SITE_DIR": str(built_site),
                      "INSTANCE_PATH": str(tmp_path / "instance")})
    client = app.test_client()
    post(client, "/forms/concern/", CONCERN)
    [record] = app.extensions["store"].list("concern")
    assert run(app, jobs.run_due, later(record, minutes=1))["sent"] == 2
    files = sorted((tmp_path / "instance" / "mail").glob("*.eml"))
    assert len(files) == 2
    parsed = [message_from_bytes(f.read_bytes(), policy=default_policy) for f in files]
    assert {m["To"].addresses[0].addr_spec for m in parsed} == {CONTACT, CONCERN["reporter_email"]}
    for message in parsed:
        assert message["Date"] and message["Message-ID"]
        assert message.get_body(preferencelist=("html",)) is not None


# -- the messages themselves --------------------------------------------------------------------

def test_header_injection_in_a_name_is_harmless(app, client, store, smtp):
    evil = "Ola\r\nBcc: victim@example.org\r\nX-Injected: yes"
    assert post(client, "/forms/concern/", {**CONCERN, "reporter_name": evil}).status_code == 422
    # The form refuses it; the mail layer must hold even for a name stored before it did.
    post(client, "/forms/concern/", CONCERN)
    [record] = store.list("concern")
    store.update("concern", record.id, data={"reporter_name": evil})
    run(app, jobs.run_due, later(record, minutes=1))
    assert len(smtp.messages) == 2
    for message in smtp.messages:
        assert message["Bcc"] is None and message["X-Injected"] is None
    [receipt] = smtp.to(CONCERN["reporter_email"])
    assert "\n" not in str(receipt["To"]) and "Ola" in str(receipt["To"])


def test_user_text_is_escaped_in_the_html_part(app, client, store, smtp):
    post(client, "/forms/concern/", {**CONCERN, "observed": "<script>alert(1)</script> & <b>bold</b>"})
    [record] = store.list("concern")
    run(app, jobs.run_due, later(record, minutes=1))
    html = html_body(smtp.to(CONTACT)[0])
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_second_scheduler_waits_as_standby_and_takes_over(app, monkeypatch):
    import threading

    monkeypatch.setattr(jobs, "STANDBY_POLL_S", 0.2)
    monkeypatch.setattr(jobs, "RUN_EVERY_S", 0.2)
    first, second = Scheduler(app), Scheduler(app)
    threading.Thread(target=first.run, daemon=True).start()
    assert first.active.wait(10)
    threading.Thread(target=second.run, daemon=True).start()
    try:
        assert not second.active.wait(1), "two schedulers were active at once"
        first.stop()
        assert second.active.wait(10), "the standby did not take over"
    finally:
        first.stop()
        second.stop()
