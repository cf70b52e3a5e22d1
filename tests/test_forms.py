"""The three forms in each language: shown in the handbook page, stored when valid, sent back when not."""

from __future__ import annotations

import html
import re

import pytest
from bs4 import BeautifulSoup
from conftest import LANGUAGES, csrf_token, language_prefix

from forms_service import formkit

CONCERN = {
    "programme": "example",
    "mentee_name": "Ali Mentee",
    "workplace": "Fjordbakeriet, the packing department",
    "concerns": ["bullying", "other"],
    "other": "Name-calling in the group chat",
    "urgency": "soon",
    "observed": "On Tuesday I saw two colleagues laugh at the mentee's accent.\nIt has happened before.",
    "actions": "I talked with the mentee after lunch.",
    "mentee_knows": "yes",
    "reporter_name": "Ola Nordmann",
    "reporter_email": "ola@example.org",
    "reporter_phone": "+47 900 00 000",
}
AGREEMENT = {
    "programme": "example",
    "filled_by": "mentor",
    "mentor_name": "Kari Mentor",
    "mentor_email": "kari@example.org",
    "mentee_name": "Ali Mentee",
    "mentee_email": "ali@example.org",
    "start_date": "2026-01-05",
    "end_date": "2026-06-26",
    "goals": "Learn to plan a week of deliveries.",
    "goal_signs": "Ali plans a week alone and it holds.",
    "help_wanted": "Someone to ask about unwritten rules.",
    "mentor_will": "Meet every week and answer messages within a day.",
    "mentor_will_not": "Talk to Ali's manager about what we discuss.",
    "mentor_can": "Show how the planning tool works.",
    "mentor_cannot": "Decide Ali's tasks.",
    "mentee_will": "Prepare one question for each meeting.",
    "mentee_will_not": "Skip meetings without notice.",
    "mentee_can": "Take notes.",
    "mentee_cannot": "Meet on Mondays.",
    "meeting_frequency": "Every week at first, then every five weeks",
    "meeting_length": "One hour",
    "changes_rules": "Cancel a day before and suggest a new time.",
    "agenda_by": "mentee",
    "evaluation_how": "A talk and the handbook's evaluation form.",
    "midway_date": "2026-03-20",
    "final_date": "2026-06-19",
    "signature": "Kari  mentor",
}
EVALUATION = {
    "role": "mentee",
    "stage": "midway",
    "programme": "example",
    "relationship": "5",
    "progress": "4",
    "meetings": "3",
    "support": "2",
    "useful": "The weekly talks.",
    "more_of": "Show me more of the tools.",
    "next_focus": "Planning.",
    "name": "",
    "email": "",
}
FORMS = {
    # page, record kind, valid answers
    "concern": ("forms/concern/", "concern", CONCERN),
    "agreement": ("forms/agreement/", "agreement", AGREEMENT),
    "feedback": ("forms/feedback/", "evaluation", EVALUATION),
}
HEADINGS = {"nb": "Det er et problem", "en": "There is a problem", "da": "Der er et problem"}


def post(client, url, answers, token=None, **kwargs):
    data = {**answers, "csrf_token": token if token is not None else csrf_token(client, url)}
    return client.post(url, data=data, **kwargs)


def page(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", FORMS)
def test_form_is_shown_inside_the_handbook_page(client, language, name):
    url = language_prefix(language) + FORMS[name][0]
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    document = page(response)
    assert document.html["lang"] == language
    assert document.select_one("header.md-header") is not None
    assert document.select(".md-select__list a[hreflang]"), "language switcher"
    assert document.select_one("form[name=search]") is not None
    form = document.select_one("article form.mh-form")
    assert form is not None and form["method"] == "post" and form["action"] == ""
    assert form.has_attr("novalidate")
    assert "form-slot" not in response.get_data(as_text=True)
    for field in form.select("input:not([type=hidden]), select, textarea"):
        if field.get("type") in ("radio", "checkbox"):
            continue
        assert document.select_one(f"label[for='{field['id']}']") is not None, field["id"]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", FORMS)
def test_valid_form_is_stored_once_with_its_values(client, store, language, name):
    path, kind, answers = FORMS[name]
    url = language_prefix(language) + path
    response = post(client, url, answers)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(url + "sent/")
    [record] = store.list(kind)
    assert record.language == language and record.programme == "example"
    for key, value in answers.items():
        if key in ("programme", "signature"):
            continue
        stored = record.data[key]
        assert (str(stored) if isinstance(stored, int) else stored or "") == value, key
    receipt = client.get(response.headers["Location"])
    assert receipt.status_code == 200
    assert page(receipt).html["lang"] == language
    again = client.get(response.headers["Location"])
    assert again.status_code == 200, "a reload shows the receipt again"
    with client.session_transaction() as session:
        session["receipt"] = {**session["receipt"], "at": session["receipt"]["at"] - formkit.RECEIPT_SECONDS - 1}
    assert client.get(response.headers["Location"]).status_code == 303, "a receipt is not kept for later"


def test_concern_receipt_shows_a_reference_and_none_of_the_content(client, store):
    response = post(client, "/forms/concern/", CONCERN, follow_redirects=True)
    text = response.get_data(as_text=True)
    [record] = store.list("concern")
    assert f"{record.id[:4]}-{record.id[4:8]}".upper() in text
    for key in ("other", "observed", "actions", "reporter_name", "reporter_email", "reporter_phone"):
        assert CONCERN[key].split("\n")[0] not in html.unescape(text), key
    assert record.status == "new"


def test_agreement_records_the_signature_and_waits_for_the_other_party(client, store):
    post(client, "/forms/agreement/", AGREEMENT)
    [record] = store.list("agreement")
    assert record.status == "awaiting_confirmation"
    assert record.data["confirmations"]["mentor"]["name"] == "Kari  mentor"
    assert "mentee" not in record.data["confirmations"]


INVALID = [
    # form, changed answers, field whose error must show
    ("concern", {"concerns": []}, "concerns"),
    ("concern", {"concerns": ["other"], "other": ""}, "other"),
    ("concern", {"concerns": ["sabotage"]}, "concerns"),
    ("concern", {"observed": "   "}, "observed"),
    ("concern", {"observed": "x" * 4001}, "observed"),
    ("concern", {"reporter_email": "ola at example"}, "reporter_email"),
    ("concern", {"programme": "nowhere"}, "programme"),
    ("concern", {"urgency": "yesterday"}, "urgency"),
    ("agreement", {"end_date": "2025-12-31"}, "end_date"),
    ("agreement", {"start_date": "31.12.2025"}, "start_date"),
    ("agreement", {"midway_date": "2026-07-01"}, "midway_date"),
    ("agreement", {"final_date": "2026-03-01"}, "final_date"),
    ("agreement", {"signature": "Somebody Else"}, "signature"),
    ("agreement", {"mentee_email": ""}, "mentee_email"),
    ("agreement", {"goals": "g" * 2001}, "goals"),
    ("agreement", {"filled_by": ""}, "filled_by"),
    ("feedback", {"relationship": "7"}, "relationship"),
    ("feedback", {"stage": ""}, "stage"),
    ("feedback", {"email": "not-an-address"}, "email"),
    ("feedback", {"name": "n" * 101}, "name"),
]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name,changes,field", INVALID)
def test_invalid_form_comes_back_with_errors_and_answers(client, store, language, name, changes, field):
    path, kind, answers = FORMS[name]
    url = language_prefix(language) + path
    response = post(client, url, {**answers, **changes})
    assert response.status_code == 422
    document = page(response)
    summary = document.select_one("[data-error-summary]")
    assert summary is not None and HEADINGS[language] in summary.get_text()
    links = [a["href"] for a in summary.select("a")]
    assert any(link.lstrip("#").split("-")[0] == field for link in links), links
    assert document.select_one(f"#{field}-error") is not None
    # Every answer is kept: each text field still holds what was typed.
    for key, value in {**answers, **changes}.items():
        element = document.select_one(f"form.mh-form [name='{key}']")
        if element is None or element.name == "select" or element.get("type") in ("radio", "checkbox"):
            continue
        shown = element.get_text() if element.name == "textarea" else element.get("value", "")
        assert shown.strip() == value.strip(), key
    assert store.count(kind) == 0


@pytest.mark.parametrize("language", LANGUAGES)
def test_empty_form_lists_every_missing_answer(client, language):
    url = language_prefix(language) + "forms/agreement/"
    response = post(client, url, {})
    assert response.status_code == 422
    summary = page(response).select("[data-error-summary] li")
    assert len(summary) >= 15


def test_every_field_has_a_length_limit(client):
    for name, (path, _, _) in FORMS.items():
        form = page(client.get("/" + path)).select_one("form.mh-form")
        for field in form.select("input[type=text], input[type=email], input[type=tel], textarea"):
            if field["name"] == "website":
                continue
            assert field.has_attr("maxlength"), f"{name}: {field['name']}"


def test_programme_in_the_address_preselects_it(client):
    document = page(client.get("/en/forms/concern/?programme=example"))
    assert document.select_one("#programme option[selected]")["value"] == "example"


def test_unknown_programme_in_the_address_is_not_found(client):
    response = client.get("/da/forms/concern/?programme=nowhere")
    assert response.status_code == 404
    assert page(response).html["lang"] == "da"


def test_messages_say_what_to_fix_in_each_language(client):
    expected = {
        "nb": ("Skriv inn en gyldig dato", "Velg programmet ditt"),
        "en": ("Enter a real date, like 2026-03-31", "Choose your programme"),
        "da": ("Skriv en gyldig dato", "Vælg dit program"),
    }
    for language, (date_message, programme_message) in expected.items():
        url = language_prefix(language) + "forms/agreement/"
        response = post(client, url, {**AGREEMENT, "start_date": "31.12.2025", "programme": "nowhere"})
        errors = [a.get_text() for a in page(response).select("[data-error-summary] a")]
        assert errors[0] == programme_message, errors
        assert errors[1].startswith(date_message), errors


def test_dates_come_back_as_typed(client):
    response = post(client, "/forms/agreement/", {**AGREEMENT, "end_date": "2025-12-31"})
    assert re.search(r'id="end_date"[^>]*value="2025-12-31"', response.get_data(as_text=True))
