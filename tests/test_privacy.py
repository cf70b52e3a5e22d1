"""A concern report's content never reaches a log, a URL or an error page."""

from __future__ import annotations

import errno
import logging
import os
import re

import pytest
from conftest import csrf_token
from test_forms import CONCERN
from test_mail import later, link_in, run

from forms_service import scheduler as jobs

pytestmark = pytest.mark.smtp

SECRETS = {
    "observed": "Tobias told me his stepfather hits him at home",
    "actions": "I gave him the school nurse's number",
    "other": "Gambling debts to a colleague",
    "mentee_name": "Tobias Tangen",
    "workplace": "Nordlys Bilverksted",
    "reporter_name": "Reidun Rapportør",
    "reporter_email": "reidun.rapportor@example.org",
    "reporter_phone": "+47 412 34 567",
}
REPORT = {**CONCERN, **SECRETS, "concerns": ["violence", "other"]}


def leaks(text: str) -> list[str]:
    return [value for value in SECRETS.values() if value in text]


def test_full_concern_flow_leaks_nothing_to_logs_urls_or_error_pages(app, client, store, smtp, caplog, monkeypatch):
    urls, pages = [], []

    def send(method, url, **kwargs):
        response = getattr(client, method)(url, **kwargs)
        urls.append(url)
        urls.append(response.headers.get("Location", ""))
        text = response.get_data(as_text=True)
        if response.status_code in (400, 422):
            # The form itself, sent back to its writer with every answer kept (GOV.UK pattern).
            assert "data-error-summary" in text and 'class="mh-form"' in text
        elif response.status_code >= 300:
            pages.append(text)
        return response

    with caplog.at_level(logging.DEBUG):
        # Mistakes first: a missing answer, an expired form, a body too large.
        send("post", "/forms/concern/", data={**REPORT, "urgency": "", "csrf_token": csrf_token(client, "/forms/concern/")})
        send("post", "/forms/concern/", data=REPORT)
        send("post", "/forms/concern/", data={**REPORT, "observed": SECRETS["observed"] * 2000})
        # Storage failing, then an unexpected error carrying the content in its message.
        real_replace = os.replace
        monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")))
        send("post", "/forms/concern/", data={**REPORT, "csrf_token": csrf_token(client, "/forms/concern/")})
        monkeypatch.setattr(os, "replace", real_replace)
        real_add = store.add
        monkeypatch.setattr(store, "add", lambda *a, **k: (_ for _ in ()).throw(ValueError(str(k.get("data")))))
        send("post", "/forms/concern/", data={**REPORT, "csrf_token": csrf_token(client, "/forms/concern/")})
        monkeypatch.setattr(store, "add", real_add)
        # The report itself, its emails (the first try with the mail server down), a reminder, the acknowledgement.
        send("post", "/forms/concern/", data={**REPORT, "csrf_token": csrf_token(client, "/forms/concern/")})
        [record] = store.list("concern")
        smtp.controller.stop()
        run(app, jobs.run_due, later(record, minutes=1))
        smtp.restart()
        run(app, jobs.run_due, later(record, minutes=5))
        run(app, jobs.run_due, later(record, hours=25))
        ack = link_in(smtp.to("kontakt@example.org")[0], "/forms/concern/ack/")
        send("get", ack)
        send("post", ack, data={"csrf_token": csrf_token(client, ack)})
        run(app, jobs.run_due, later(record, days=1))  # tells the reporter that it was read
        run(app, jobs.run_due, later(record, days=100))  # past the retention period

    ours = [r for r in caplog.records if not r.name.startswith("mail.log")]  # mail.log: the test SMTP server
    logged = "\n".join(r.getMessage() + " " + str(r.exc_info or "") for r in ours)
    assert "Unhandled ValueError" in logged and "Storage unavailable" in logged, "the errors were logged"
    assert not leaks(logged), f"in the logs: {leaks(logged)}"
    assert not leaks(" ".join(urls)), "in a URL"
    for page in pages:
        assert not leaks(page), "in an error page"
    receipt = smtp.to(SECRETS["reporter_email"])[0]
    content = [SECRETS[key] for key in ("observed", "actions", "other", "reporter_phone")]
    assert not [v for v in content if v in receipt.get_body(preferencelist=("plain",)).get_content()]
    assert all(not leaks(str(m["Subject"])) for m in smtp.messages)
    assert store.count("concern") == 0, "deleted after the retention period"
    assert re.search(r"/forms/concern/ack/[\w.\-]+/$", ack)
