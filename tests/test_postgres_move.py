"""After moving a TinyDB deployment into PostgreSQL (`db import-tinydb`), the flows go on: a
pending agreement can still be confirmed, an unread concern report is still escalated."""

from __future__ import annotations

import re

import pytest
from agreement_flow import send_and_verify
from test_forms import AGREEMENT, CONCERN, post
from test_mail import COORDINATOR, CONTACT, later, link_in, run

from forms_service import create_app
from forms_service import scheduler as jobs

pytestmark = pytest.mark.smtp


def test_flows_go_on_after_the_import(app, client, store, smtp, tmp_path, database_url):
    agreement = send_and_verify(client, app, store, AGREEMENT, "da")
    post(client, "/forms/concern/", CONCERN)
    [concern] = store.list("concern")
    run(app, jobs.run_due, later(concern, minutes=1))
    [request] = smtp.to(AGREEMENT["mentee_email"])
    confirm = link_in(request, "/forms/agreement/confirm/")
    assert len(smtp.to(CONTACT)) == 1 and store.get("concern", concern.id).status == "notified"

    keep = ("TESTING", "SECRET_KEY", "SITE_DIR", "FORM_RATE_LIMIT", "PUBLIC_URL", "SMTP_HOST", "SMTP_PORT",
            "SMTP_SECURITY", "SMTP_TIMEOUT", "MAIL_FROM", "ADMIN_EMAIL")
    moved = create_app({**{key: app.config[key] for key in keep}, "DATABASE_URL": database_url,
                        "INSTANCE_PATH": str(tmp_path / "new-instance")})
    result = moved.test_cli_runner().invoke(args=["db", "import-tinydb", app.instance_path])
    assert result.exit_code == 0, result.output
    assert "agreement: 1 record(s), 1 new, 0 already there" in result.output
    assert "concern: 1 record(s), 1 new, 0 already there" in result.output
    records = moved.extensions["store"]
    assert type(records).__name__ == "PostgresStore"

    # The link the mentee got before the move still confirms the agreement.
    pg_client = moved.test_client()
    page = pg_client.get(confirm)
    assert page.status_code == 200
    tokens = dict(re.findall(r'name="(\w+-csrf_token)" type="hidden" value="([^"]+)"', page.get_data(as_text=True)))
    response = pg_client.post(confirm, data={"confirm-csrf_token": tokens["confirm-csrf_token"],
                                             "confirm-full_name": AGREEMENT["mentee_name"]})
    assert response.status_code == 200
    assert records.get("agreement", agreement.id).status == "confirmed"
    run(moved, jobs.run_due, later(agreement, days=1))
    assert len(smtp.to(AGREEMENT["mentor_email"])) == 1, "the copy of the confirmed agreement"

    # Nobody reads the report: reminders, then the coordinators are told, from PostgreSQL.
    for hours in range(12, 24 * 30, 12):  # bounded: a month of runs, twice a day
        run(moved, jobs.run_due, later(concern, hours=hours))
        if smtp.to(COORDINATOR):
            break
    assert len(smtp.to(COORDINATOR)) == 1
    escalated = records.get("concern", concern.id)
    assert escalated.status == "notified" and escalated.data.get("escalated_at") and escalated.due is None
    assert store.get("concern", concern.id).status == "notified", "the old store was only read"
    records.close()
