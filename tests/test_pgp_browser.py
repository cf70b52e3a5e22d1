"""The acknowledge page, where a contact person reads a report that email did not carry, in Chromium."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from conftest import assert_accessible, screenshot
from test_forms import CONCERN

from forms_service import concern

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("language", ["nb", "en", "da"])
def test_the_report_is_shown_after_the_button_and_the_page_is_accessible(phone, live_server, live_app, language):
    answers = {key: value for key, value in CONCERN.items() if key not in ("programme",)}
    record = live_app.extensions["store"].add("concern", language="nb", programme="example", status="notified",
                                              data={**answers, "observed": "Line one of what I saw.\nLine two."})
    with live_app.test_request_context():
        path = urlsplit(concern.ack_link(record.id, "contact", language)).path

    phone.goto(live_server + path)
    assert phone.get_by_text("Line one of what I saw.").count() == 0, "a GET never shows the report"
    assert_accessible(phone)
    phone.locator("form.mh-form button.mh-submit").click()
    report = phone.locator(".mh-report")
    report.wait_for()
    assert "Line one of what I saw." in report.inner_text() and "Line two." in report.inner_text()
    assert CONCERN["reporter_phone"] in report.inner_text()
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert_accessible(phone)
    screenshot(phone, f"concern-report-on-the-ack-page-{language}")
    assert live_app.extensions["store"].get("concern", record.id).status == "acknowledged"
