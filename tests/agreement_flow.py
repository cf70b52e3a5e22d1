"""Walking the agreement's steps with Flask's test client, as a person without JavaScript would."""

from __future__ import annotations

import re

from conftest import language_prefix

# The answers each step asks for (by field name), in the order of the steps.
STEP_FIELDS = (
    ("programme", "filled_by", "mentor_name", "mentor_email", "mentee_name", "mentee_email", "other_language"),
    ("goals", "goal_signs", "help_wanted"),
    ("mentor_will", "mentor_will_not", "mentor_can", "mentor_cannot",
     "mentee_will", "mentee_will_not", "mentee_can", "mentee_cannot", "mentor_tasks", "mentor_hours"),
    ("meeting_frequency", "meeting_length", "changes_rules", "agenda_by"),
    ("start_date", "end_date", "grant_period", "midway_date", "final_date", "evaluation_how"),
)
SIGN_FIELDS = ("signature", "declaration_name")


def token_of(text: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', text)
    assert match, "no CSRF token on the page"
    return match.group(1)


def step_url(language: str, number: int) -> str:
    base = language_prefix(language) + "forms/agreement/"
    return base if number == 1 else f"{base}?step={number}"


def check_url(language: str) -> str:
    return language_prefix(language) + "forms/agreement/?step=check"


def post_step(client, language: str, number: int, answers: dict):
    """GET step ``number`` for its token, then POST the answers that belong to it."""
    url = step_url(language, number)
    page = client.get(url)
    assert page.status_code == 200, (url, page.status_code, page.headers.get("Location"))
    data = {key: value for key, value in answers.items() if key in STEP_FIELDS[number - 1]}
    if number == 1:
        data.setdefault("other_language", language)  # checked on the page already, as a browser sends it
    return client.post(url, data={**data, "csrf_token": token_of(page.get_data(as_text=True))})


def fill_steps(client, answers: dict, language: str = "nb") -> None:
    """Fill in all five steps; each must be accepted (303 to the next)."""
    for number in range(1, len(STEP_FIELDS) + 1):
        response = post_step(client, language, number, answers)
        assert response.status_code == 303, (number, response.status_code,
                                             re.findall(r'<li><a href="#[^"]+">([^<]+)', response.get_data(as_text=True)))


def sign(client, answers: dict, language: str = "nb"):
    """POST the check page with the signature (and the mentor's declaration when it is asked for)."""
    page = client.get(check_url(language))
    assert page.status_code == 200, page.headers.get("Location")
    text = page.get_data(as_text=True)
    data = {key: value for key, value in answers.items() if key in SIGN_FIELDS}
    if 'name="declaration_name"' in text and "declaration_name" not in data:
        data["declaration_name"] = answers["mentor_name"]
    return client.post(check_url(language), data={**data, "csrf_token": token_of(text)})


def send_agreement(client, answers: dict, language: str = "nb"):
    """The whole flow up to the receipt: the five steps, then the check page; returns the POST's response."""
    fill_steps(client, answers, language)
    return sign(client, answers, language)


def verify_path(app, record_id: str, language: str = "nb") -> str:
    from forms_service.agreement import verify_link

    with app.test_request_context():
        return re.sub(r"^https?://[^/]+", "", verify_link(record_id, language))


def verify(client, app, record_id: str, language: str = "nb"):
    """The filler's click: GET the confirmation page, then press its button (a POST)."""
    url = verify_path(app, record_id, language)
    page = client.get(url)
    assert page.status_code == 200
    return client.post(url, data={"csrf_token": token_of(page.get_data(as_text=True))})


def send_and_verify(client, app, store, answers: dict, language: str = "nb"):
    """Send an agreement and confirm the filler's address; returns the stored record."""
    response = send_agreement(client, answers, language)
    assert response.status_code == 303, response.status_code
    record = store.list("agreement")[-1]
    assert verify(client, app, record.id, language).status_code == 200
    return store.get("agreement", record.id)
