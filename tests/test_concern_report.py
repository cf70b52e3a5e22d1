"""The concern report as its three readers meet it: the mentor's form and receipt, and the contact
person's email read on a phone in a hurry."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from bs4 import BeautifulSoup
from conftest import LANGUAGES, csrf_token, language_prefix
from test_forms import CONCERN, post
from test_mail import BACKUP, CONTACT, body, html_body, later, run

from forms_service import scheduler as jobs

# Norwegian, English and Danish dates as Babel writes them, to the minute, with the zone.
MINUTE_WITH_ZONE = re.compile(r"\d{1,2}[:.]\d{2}(\s[AP]M)? CES?T\b")
WITH_SECONDS = re.compile(r"\d{1,2}[:.]\d{2}[:.]\d{2}")
ERROR_WORD = {"nb": "Feil:", "en": "Error:", "da": "Fejl:"}


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_form_asks_who_and_where_and_refuses_a_report_without_them(client, store, language):
    url = language_prefix(language) + "/forms/concern/".lstrip("/")
    form = soup(client.get(url))
    assert form.select_one("input#mentee_name") and form.select_one("input#workplace")
    response = post(client, url, {k: v for k, v in CONCERN.items() if k not in ("mentee_name", "workplace")})
    assert response.status_code == 422 and store.count("concern") == 0
    page = soup(response)
    targets = [a["href"] for a in page.select("[data-error-summary] a")]
    assert "#mentee_name" in targets and "#workplace" in targets
    assert page.title.string.startswith(ERROR_WORD[language]), page.title.string


@pytest.mark.parametrize("language", LANGUAGES)
def test_emergency_numbers_dial_with_the_readers_country_first(client, language):
    url = language_prefix(language) + "forms/concern/"
    page = soup(client.get(url))
    boxes = page.select("form.mh-form .mh-emergency")
    assert len(boxes) == 2, "beside the urgency question and beside the send button"
    urgency = page.select_one("fieldset:has(#urgency-0)").find_parent(class_="mh-field")
    assert urgency.find_next_sibling(class_="mh-emergency") is boxes[0]
    assert boxes[1].find_next_sibling("button") is not None
    first = boxes[0].select_one("li").get_text()
    assert ("Danmark" if language == "da" else "Norge" if language == "nb" else "Norway") in first
    assert [a["href"] for a in boxes[0].select("a")] == (
        ["tel:112", "tel:112", "tel:113"] if language == "da" else ["tel:112", "tel:113", "tel:112"])
    # The handbook's own warning on the page follows the same rule.
    admonition = page.select_one(".admonition.danger")
    hrefs = [a["href"] for a in admonition.select("a")]
    assert hrefs[0] == "tel:112" and "tel:113" in hrefs
    assert admonition.get_text().index("Danmark" if language == "da" else "Norge" if language == "nb" else
                                       "Norway") < admonition.get_text().index(
        "Norge" if language == "da" else "Danmark" if language == "nb" else "Denmark")


@pytest.mark.parametrize(("urgency", "hours"), [("urgent", 4), ("soon", 24)])
def test_the_receipt_names_the_contact_person_and_the_deadline_of_the_urgency(client, store, urgency, hours):
    response = post(client, "/en/forms/concern/", {**CONCERN, "urgency": urgency})
    receipt = soup(client.get(response.headers["Location"]))
    text = receipt.select_one(".mh-receipt").get_text(" ", strip=True)
    assert "Kari Kontakt" in text
    [record] = store.list("concern")
    deadline = (record.created + timedelta(hours=hours)).astimezone(client.application.extensions[
        "programmes"].time_zone)
    assert deadline.strftime("%-I:%M") in text and MINUTE_WITH_ZONE.search(text), text
    assert "within a day" not in text
    assert [a["href"] for a in receipt.select(".mh-emergency a")][:2] == ["tel:112", "tel:113"]
    for secret in ("mentee_name", "workplace", "observed"):
        assert CONCERN[secret] not in text


@pytest.mark.smtp
def test_the_contact_persons_email_leads_with_what_matters(app, client, store, smtp):
    post(client, "/forms/concern/", {**CONCERN, "urgency": "urgent"})
    [record] = store.list("concern")
    run(app, jobs.run_due, later(record, seconds=30))
    [report] = smtp.to(CONTACT)
    assert str(report["Subject"]).startswith("HASTER")
    page = BeautifulSoup(html_body(report), "html.parser")
    text = page.get_text(" ", strip=True)
    button = text.index("Bekreft at jeg har lest bekymringsmeldingen")
    for first in ("Haster", "Mobbing", CONCERN["mentee_name"], CONCERN["workplace"], CONCERN["reporter_phone"]):
        assert -1 < text.find(first) < button, first
    [phone] = [a for a in page.select("a") if a["href"].startswith("tel:")][:1]
    assert phone["href"] == "tel:+4790000000"
    assert text.index(phone.get_text()) < button
    plain = body(report)
    assert plain.index(CONCERN["mentee_name"]) < plain.index("/forms/concern/ack/")
    assert MINUTE_WITH_ZONE.search(plain) and not WITH_SECONDS.search(plain), plain

    [receipt] = smtp.to(CONCERN["reporter_email"])
    assert "Kari Kontakt" in body(receipt) and MINUTE_WITH_ZONE.search(body(receipt)), "who reads it, and by when"
    assert "within a day" not in body(receipt) and "innen et døgn" not in body(receipt)

    run(app, jobs.run_due, later(record, hours=4, minutes=1))
    [reminder] = smtp.to(BACKUP)
    assert str(reminder["Subject"]).startswith("HASTER"), "the urgent marker stays in reminders"
    assert MINUTE_WITH_ZONE.search(body(reminder)) and not WITH_SECONDS.search(body(reminder))


def test_an_email_error_names_its_field(client):
    page = soup(post(client, "/en/forms/concern/", {**CONCERN, "reporter_email": "not-an-address"}))
    assert [a.get_text() for a in page.select("[data-error-summary] a")] == [
        "Enter your email address in the right format, like name@example.org"]
    page = soup(post(client, "/en/forms/agreement/", {"mentor_email": "x@", "mentee_email": "y"}))
    messages = [a.get_text() for a in page.select("[data-error-summary] a")]
    assert "Enter the mentor's email address in the right format, like name@example.org" in messages
    assert "Enter the mentee's email address in the right format, like name@example.org" in messages


@pytest.mark.parametrize("language", LANGUAGES)
def test_service_pages_switch_language_to_the_same_page(client, language):
    response = post(client, language_prefix(language) + "forms/concern/", CONCERN)
    sent = response.headers["Location"]
    rest = sent.split("forms/", 1)[1]
    page = soup(client.get(sent))
    switcher = {a["hreflang"]: a["href"] for a in page.select(".md-select__list a[hreflang]")}
    assert switcher == {other: language_prefix(other) + "forms/" + rest for other in LANGUAGES}
    assert not page.select("link[rel=alternate]"), "no hreflang alternates pointing at handbook pages"
    for other in LANGUAGES:
        assert client.get(switcher[other]).status_code == 200, "the receipt shows in the other language"
    missing = soup(client.get(language_prefix(language) + "no-such-page/"))
    assert {a["href"] for a in missing.select(".md-select__list a[hreflang]")} == {
        language_prefix(other) + "no-such-page/" for other in LANGUAGES}


def test_the_ack_page_keeps_its_token_in_the_switcher(app, client, store):
    post(client, "/forms/concern/", CONCERN)
    [record] = store.list("concern")
    from forms_service.concern import ack_link

    with app.test_request_context():
        path = "/" + ack_link(record.id, "contact", "nb").split("/", 3)[3]
    page = soup(client.get(path))
    switcher = {a["hreflang"]: a["href"] for a in page.select(".md-select__list a[hreflang]")}
    assert switcher["en"] == "/en" + path and switcher["nb"] == path
