"""The operators' commands, and retention."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

import pytest
from conftest import free_port
from agreement_flow import send_agreement
from test_forms import AGREEMENT, CONCERN, EVALUATION, post
from test_mail import run

from forms_service.programmes import Person
from forms_service import feedback, mail, scheduler as jobs

pytestmark = pytest.mark.smtp


def invoke(app, *args):
    """Run a command; .output has all it printed, .stdout what went to standard output."""
    return app.test_cli_runner().invoke(args=list(args))


def test_check_config_reports_a_working_setup(app):
    result = invoke(app, "check-config")
    assert result.exit_code == 0, result.output
    assert "Programme example: contact kontakt@example.org" in result.output
    assert "Mail check: OK, connected to 127.0.0.1" in result.output
    assert "Configuration OK" in result.output


def test_check_config_says_precisely_what_is_wrong(app):
    app.config["SMTP_PORT"] = free_port()  # nobody listens there
    result = invoke(app, "check-config")
    assert result.exit_code == 1
    assert f"cannot connect to 127.0.0.1:{app.config['SMTP_PORT']}" in result.output


def test_outbox_list_retry_and_send(app, store, smtp):
    smtp.refuse_rcpt["nobody@example.org"] = "550 No such user"
    with app.test_request_context():
        mail.queue("delivery_failed", Person("N", "nobody@example.org", "en"), key="1", failed_id="1",
                   purpose_failed="p", recipient="r", reason="why", attempts=1)
    assert "1 sent" not in invoke(app, "outbox", "send").output
    listed = invoke(app, "outbox", "list", "--status", "failed").output
    assert "nobody@example.org" in listed and "1 message(s)" in listed
    del smtp.refuse_rcpt["nobody@example.org"]
    assert "1 message(s) queued again" in invoke(app, "outbox", "retry", "--all-failed").output
    assert "1 sent" in invoke(app, "outbox", "send").output
    assert len(smtp.to("nobody@example.org")) == 1


def test_export_as_csv_and_json(app, client, store):
    post(client, "/forms/feedback/", EVALUATION)
    post(client, "/en/forms/feedback/", {**EVALUATION, "useful": 'Quotes "and", commas'})
    result = invoke(app, "export", "evaluation", "--programme", "example", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 2 and {r["language"] for r in rows} == {"nb", "en"}
    assert 'Quotes "and", commas' in {r["useful"] for r in rows}
    exported = json.loads(invoke(app, "export", "evaluation", "--format", "json").stdout)
    assert {r["data"]["relationship"] for r in exported} == {5}


def test_purge_follows_the_retention_rules(app, client, store):
    post(client, "/forms/concern/", CONCERN)
    post(client, "/forms/concern/", CONCERN)
    send_agreement(client, AGREEMENT)
    read, waiting = store.list("concern")
    now = datetime.now(timezone.utc)
    run(app, jobs.run_due, now)  # both reports and the agreement request are emailed
    # One report was read 91 days ago (retention: 90 days from reading); the other never.
    store.update("concern", read.id, status="acknowledged", due=now,
                 data={"acknowledged_at": (now - timedelta(days=91)).isoformat()})
    run(app, jobs.run_due, now)  # tells the reporter that it was read
    assert len(store.list("outbox", status="sent")) == 6
    run(app, jobs.run_due, now)  # past its retention: deleted
    assert [r.id for r in store.list("concern")] == [waiting.id], "unread reports are never deleted"
    assert run(app, jobs.purge, now) == {}
    assert run(app, jobs.purge, now + timedelta(days=31)) == {"outbox": 6}
    assert store.count("agreement") == 1
    assert run(app, jobs.purge, now + timedelta(days=731)).get("agreement") == 1
    assert "Deleted: nothing" in invoke(app, "purge").output
