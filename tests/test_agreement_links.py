"""The agreement after it is sent: the other party's link, changes, expiry and the printable view."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from bs4 import BeautifulSoup
from freezegun import freeze_time
from agreement_flow import send_and_verify
from babel.dates import format_date
from test_forms import AGREEMENT, END, START

from forms_service.agreement import confirm_link, print_link


@pytest.fixture
def agreement(app, client, store):
    return send_and_verify(client, app, store, AGREEMENT, "en")


def path_of(app, link_maker, record_id, language="en"):
    with app.test_request_context():
        return re.sub(r"^https?://[^/]+", "", link_maker(record_id, language))


def tokens(client, url) -> dict:
    text = client.get(url).get_data(as_text=True)
    return dict(re.findall(r'name="(\w+-csrf_token)" type="hidden" value="([^"]+)"', text))


def test_other_party_sees_the_whole_agreement_read_only(app, client, agreement):
    url = path_of(app, confirm_link, agreement.id)
    response = client.get(url)
    assert response.status_code == 200
    document = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    text = document.select_one("article").get_text()
    for key in ("goals", "mentor_will", "mentee_cannot", "changes_rules", "meeting_length"):
        assert AGREEMENT[key] in text, key
    assert format_date(START, "long", locale="en") in text and format_date(END, "long", locale="en") in text
    assert not document.select("article input[name='goals'], article textarea[name='goals']")
    assert document.select_one("#confirm-full_name") is not None
    assert document.select_one("#changes-comment") is not None


def test_confirming_makes_it_confirmed_and_printable(app, client, store, agreement):
    url = path_of(app, confirm_link, agreement.id)
    token = tokens(client, url)["confirm-csrf_token"]
    response = client.post(url, data={"confirm-csrf_token": token, "confirm-full_name": "ali mentee"})
    assert response.status_code == 200
    record = store.get("agreement", agreement.id)
    assert record.status == "confirmed"
    assert set(record.data["confirmations"]) == {"mentor", "mentee"}

    printable = client.get(path_of(app, print_link, agreement.id))
    assert printable.status_code == 200
    text = printable.get_data(as_text=True)
    assert AGREEMENT["goals"] in text and "ali mentee" in text


def test_confirming_needs_the_right_name(app, client, store, agreement):
    url = path_of(app, confirm_link, agreement.id)
    token = tokens(client, url)["confirm-csrf_token"]
    response = client.post(url, data={"confirm-csrf_token": token, "confirm-full_name": "Someone Else"})
    assert response.status_code == 422
    assert "data-error-summary" in response.get_data(as_text=True)
    assert store.get("agreement", agreement.id).status == "awaiting_confirmation"


def test_asking_for_changes(app, client, store, agreement):
    url = path_of(app, confirm_link, agreement.id)
    token = tokens(client, url)["changes-csrf_token"]
    response = client.post(url, data={"changes-csrf_token": token, "changes-comment": "Meet on Tuesdays."})
    assert response.status_code == 200
    record = store.get("agreement", agreement.id)
    assert record.status == "changes_requested"
    assert record.data["changes_requested"] == {"by": "mentee", "comment": "Meet on Tuesdays.",
                                                "at": record.data["changes_requested"]["at"]}
    # An agreement that is not confirmed has no printable view.
    assert client.get(path_of(app, print_link, agreement.id)).status_code == 404


def test_a_used_link_cannot_be_used_again(app, client, store, agreement):
    url = path_of(app, confirm_link, agreement.id)
    token = tokens(client, url)["confirm-csrf_token"]
    client.post(url, data={"confirm-csrf_token": token, "confirm-full_name": "Ali Mentee"})
    assert client.get(url).status_code == 410
    again = client.post(url, data={"changes-csrf_token": token, "changes-comment": "Too late?"})
    assert again.status_code == 410
    assert store.get("agreement", agreement.id).status == "confirmed"


def test_an_expired_link_is_refused(app, client, store, agreement):
    url = path_of(app, confirm_link, agreement.id)
    with freeze_time(agreement.created + timedelta(days=15)):
        response = client.get(url)
    assert response.status_code == 410
    assert "expired" in response.get_data(as_text=True)
    assert store.get("agreement", agreement.id).status == "awaiting_confirmation"


@pytest.mark.parametrize("change", ["flip", "cut", "swap-purpose"])
def test_a_tampered_link_is_refused(app, client, agreement, change):
    url = path_of(app, confirm_link, agreement.id)
    token = url.rstrip("/").rsplit("/", 1)[1]
    if change == "flip":
        bad = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
        target = url.replace(token, bad)
    elif change == "cut":
        target = url.replace(token, token[:20])
    else:  # a printing link does not confirm
        print_token = path_of(app, print_link, agreement.id).rstrip("/").rsplit("/", 1)[1]
        target = url.replace(token, print_token)
    response = client.get(target)
    assert response.status_code == 404
    assert BeautifulSoup(response.get_data(as_text=True), "html.parser").html["lang"] == "en"


def test_printable_view_prints_on_a4_without_the_site_around_it(app, client, store, agreement):
    store.update("agreement", agreement.id, status="confirmed",
                 data={"confirmations": {"mentor": {"name": "Kari Mentor", "at": "2026-01-02T10:00:00+00:00"},
                                         "mentee": {"name": "Ali Mentee", "at": "2026-01-03T10:00:00+00:00"}}})
    response = client.get(path_of(app, print_link, agreement.id, language="da"))
    assert response.status_code == 200
    document = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    assert document.html["lang"] == "da"
    assert document.select_one(".mh-printable") is not None
    css = (app.config["SITE_DIR"] + "/assets/stylesheets/handbook.css")
    rules = open(css, encoding="utf-8").read()
    assert "size: A4" in rules and ".md-header" in rules.split("@media print")[1]


def test_csrf_token_is_required_for_confirming(app, client, store, agreement):
    url = path_of(app, confirm_link, agreement.id)
    client.get(url)
    response = client.post(url, data={"confirm-full_name": "Ali Mentee"})
    assert response.status_code == 400
    assert store.get("agreement", agreement.id).status == "awaiting_confirmation"
