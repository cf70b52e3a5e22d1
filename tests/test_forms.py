"""The three forms in each language: shown in the handbook page, stored when valid, sent back when not."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

import pytest
from bs4 import BeautifulSoup
from agreement_flow import STEP_FIELDS, fill_steps, post_step, send_agreement, step_url
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
# The agreement's dates move with today, so that they stay inside the allowed window (a start
# between a year back and two years ahead): the period begins 30 days from now.
START = date.today() + timedelta(days=30)
END = START + timedelta(days=172)
MIDWAY = START + timedelta(days=74)
FINAL = START + timedelta(days=165)
AGREEMENT = {
    "programme": "example",
    "filled_by": "mentor",
    "mentor_name": "Kari Mentor",
    "mentor_email": "kari@example.org",
    "mentee_name": "Ali Mentee",
    "mentee_email": "ali@example.org",
    "start_date": START.isoformat(),
    "end_date": END.isoformat(),
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
    "midway_date": MIDWAY.isoformat(),
    "final_date": FINAL.isoformat(),
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
# The forms that are one page (the agreement has steps: tests/test_agreement_steps.py).
ONE_PAGE = ("concern", "feedback")
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
    response = send_agreement(client, answers, language) if name == "agreement" else post(client, url, answers)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(url + "sent/")
    [record] = store.list(kind)
    assert record.language == language and record.programme == "example"
    for key, value in answers.items():
        if key in ("programme", "signature", "declaration_name"):
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
    send_agreement(client, AGREEMENT)
    [record] = store.list("agreement")
    assert record.status == "awaiting_sender", "the filler confirms their own address first"
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


AGREEMENT_INVALID = [
    # changed answers, field whose error must show on its step
    ({"end_date": (START - timedelta(days=1)).isoformat()}, "end_date"),
    ({"start_date": "31.12.2025"}, "start_date"),
    ({"midway_date": (END + timedelta(days=5)).isoformat()}, "midway_date"),
    ({"final_date": (MIDWAY - timedelta(days=1)).isoformat()}, "final_date"),
    ({"mentee_email": ""}, "mentee_email"),
    ({"mentee_email": "kari@example.org"}, "mentee_email"),
    ({"goals": "g" * 2001}, "goals"),
    ({"filled_by": ""}, "filled_by"),
    ({"mentor_will": " "}, "mentor_will"),
    ({"agenda_by": "nobody"}, "agenda_by"),
]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("changes,field", AGREEMENT_INVALID)
def test_invalid_agreement_step_comes_back_with_errors_and_answers(client, store, language, changes, field):
    number = next(n for n, names in enumerate(STEP_FIELDS, start=1) if field in names)
    answers = {**AGREEMENT, **changes}
    for earlier in range(1, number):
        assert post_step(client, language, earlier, AGREEMENT).status_code == 303
    response = post_step(client, language, number, answers)
    assert response.status_code == 422
    document = page(response)
    summary = document.select_one("[data-error-summary]")
    assert summary is not None and HEADINGS[language] in summary.get_text()
    assert [a["href"].lstrip("#").split("-")[0] for a in summary.select("a")] == [field]
    assert document.select_one(f"#{field}-error") is not None
    for key in STEP_FIELDS[number - 1]:
        element = document.select_one(f"form.mh-form [name='{key}']")
        if key not in answers or element is None or element.name == "select" or element.get("type") in ("radio",):
            continue
        shown = element.get_text() if element.name == "textarea" else element.get("value", "")
        assert shown.strip() == answers[key].strip(), key
    assert store.count("agreement") == 0


@pytest.mark.parametrize("language", LANGUAGES)
def test_empty_step_lists_every_missing_answer(client, language):
    url = language_prefix(language) + "forms/agreement/"
    response = post(client, url, {"other_language": ""})
    assert response.status_code == 422
    summary = page(response).select("[data-error-summary] li")
    assert len(summary) == 7


def test_every_field_has_a_length_limit(client):
    pages = [page(client.get("/" + path)) for path, _, _ in FORMS.values()]
    fill_steps(client, AGREEMENT)
    pages += [page(client.get(step_url("nb", number))) for number in range(2, len(STEP_FIELDS) + 1)]
    pages.append(page(client.get("/forms/agreement/?step=check")))
    for document in pages:
        for form in document.select("form.mh-form"):
            for field in form.select("input[type=text], input[type=email], input[type=tel], textarea"):
                if field["name"] == "website":
                    continue
                assert field.has_attr("maxlength"), field["name"]


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
        response = post_step(client, language, 1, {**AGREEMENT, "programme": "nowhere"})
        errors = [a.get_text() for a in page(response).select("[data-error-summary] a")]
        assert errors == [programme_message], errors
        for number in range(1, 5):
            post_step(client, language, number, AGREEMENT)
        response = post_step(client, language, 5, {**AGREEMENT, "start_date": "31.12.2025"})
        errors = [a.get_text() for a in page(response).select("[data-error-summary] a")]
        assert errors[0].startswith(date_message), errors


def test_dates_come_back_as_typed(client):
    for number in range(1, 5):
        post_step(client, "nb", number, AGREEMENT)
    typed = (START - timedelta(days=1)).isoformat()
    response = post_step(client, "nb", 5, {**AGREEMENT, "end_date": typed})
    assert re.search(rf'id="end_date"[^>]*value="{typed}"', response.get_data(as_text=True))
